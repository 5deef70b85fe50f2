using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// A request body as every service takes it: one JSON object of at most <see cref="MaxBytes"/>, with only the fields
/// the request takes, read once by a body type's <c>BindAsync</c>. Each refusal is an <see cref="InvalidRequestException"/>
/// with the contract's message, so a handler sees only a well-formed body. Bound by hand rather than by the JSON
/// binder, which cannot tell these messages apart (a syntax error, a number for a string and an unknown field all
/// surface as the same JsonException) nor enforce the cap on hosts (TestServer) that do not apply Kestrel's limit.
/// </summary>
public sealed class JsonRequestBody : IDisposable
{
    public const long MaxBytes = 1024 * 1024;
    public const string TooLarge = "Request body must not exceed 1 MiB";
    public const string NotJson = "Request body is not valid JSON";
    public const string NotAnObject = "Request body must be a JSON object";

    private readonly JsonDocument document;

    private JsonRequestBody(JsonDocument document) => this.document = document;

    public JsonElement Root => document.RootElement;

    private static readonly object ReadItem = new();

    /// <summary>The body this request's binding read (a JSON object), for what records the request afterwards (the audit trail); null when none was read.</summary>
    public static JsonElement? Of(HttpContext http) => http.Items.TryGetValue(ReadItem, out var body) && body is JsonElement root ? root : null;

    /// <summary>Reads the body; <paramref name="fields"/> (null: checked later, by <see cref="RefuseUnknownFields"/>) are all it may hold.</summary>
    /// <param name="request">What the body is, as the unknown-field refusal names it, e.g. <c>a new schedule</c>.</param>
    public static Task<JsonRequestBody> ReadAsync(HttpContext http, string request, IReadOnlyCollection<string>? fields) =>
        ReadAsync(http, request, fields, optional: false)!;

    /// <summary>As <see cref="ReadAsync(HttpContext, string, IReadOnlyCollection{string}?)"/> for a body a request may leave out: null when it is empty (or only white space).</summary>
    public static Task<JsonRequestBody?> ReadOptionalAsync(HttpContext http, string request, IReadOnlyCollection<string>? fields) =>
        ReadAsync(http, request, fields, optional: true);

    private static async Task<JsonRequestBody?> ReadAsync(HttpContext http, string request, IReadOnlyCollection<string>? fields, bool optional)
    {
        JsonDocument document;
        var bytes = await ReadCappedAsync(http);
        if (optional && bytes.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
        {
            return null;
        }

        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException)
        {
            throw new InvalidRequestException(NotJson);
        }

        var body = new JsonRequestBody(document);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            body.Dispose();
            throw new InvalidRequestException(NotAnObject);
        }

        if (fields is not null)
        {
            body.RefuseUnknownFields(request, fields);
        }

        http.Items[ReadItem] = document.RootElement.Clone();
        return body;
    }

    public void RefuseUnknownFields(string request, IReadOnlyCollection<string> fields)
    {
        if (JsonShape.UnknownFields(Root, request, fields) is { } refusal)
        {
            throw new InvalidRequestException(refusal);
        }
    }

    /// <summary>Whether the field is there with a value other than null (a null field counts as left out).</summary>
    public bool Has(string name) => Field(name) is not null;

    /// <summary>The field's value, or null when left out or null.</summary>
    public JsonElement? Field(string name) => Root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>An optional non-empty string; any other kind of value is refused.</summary>
    public string? OptionalString(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value when JsonShape.TryGetString(value, out var text) && text.Length > 0 => text,
        _ => throw new InvalidRequestException($"{name} must be a non-empty string"),
    };

    /// <summary>An optional <see cref="PlatformNames.IsName">name</see>, refused as <c>{name} must be {rule}</c>.</summary>
    public string? OptionalName(string name) => OptionalString(name) switch
    {
        null => null,
        var text when PlatformNames.IsName(text) => text,
        _ => throw new InvalidRequestException($"{name} must be {PlatformNames.NameRule}"),
    };

    /// <summary>An optional string that must be one of <paramref name="allowed"/>, refused naming them.</summary>
    public string? OptionalChoice(string name, IReadOnlyList<string> allowed) => OptionalString(name) switch
    {
        null => null,
        var text when allowed.Contains(text, StringComparer.Ordinal) => text,
        _ => throw new InvalidRequestException($"{name} must be {string.Join(" or ", allowed.Select(a => $"'{a}'"))}"),
    };

    /// <summary>Whether the field is there at all, null included (a PATCH's null clears a value).</summary>
    public bool Given(string name) => Root.TryGetProperty(name, out _);

    /// <summary>An optional whole number of <paramref name="min"/> or more, refused as <c>{name} must be a whole number of {min} or more</c>.</summary>
    public int? OptionalWholeNumber(string name, int min) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetDecimal(out var number) && number == decimal.Truncate(number)
            && number >= min && number <= int.MaxValue => (int)number,
        _ => throw new InvalidRequestException($"{name} must be a whole number of {min} or more"),
    };

    /// <summary>An optional amount of money (a JSON number of 0 or more), refused as <c>{name} must be a number of 0 or more</c>.</summary>
    public decimal? OptionalAmount(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetDecimal(out var amount) && amount >= 0 => amount,
        _ => throw new InvalidRequestException($"{name} must be a number of 0 or more"),
    };

    public bool? OptionalBoolean(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw new InvalidRequestException($"{name} must be true or false"),
    };

    public void Dispose() => document.Dispose();

    /// <summary>
    /// At most <see cref="MaxBytes"/>: the declared length is checked first, and the cap is enforced while reading
    /// too, for chunked bodies and for hosts (TestServer) that do not apply Kestrel's limit.
    /// </summary>
    private static async Task<byte[]> ReadCappedAsync(HttpContext http)
    {
        byte[]? body = null;
        if (http.Request.ContentLength is not > MaxBytes)
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxBytes + 1;
            }

            try
            {
                body = await CappedRead.ReadAsync(http.Request.Body, MaxBytes, http.RequestAborted);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Kestrel's own limit, set just above.
            }
        }

        return body ?? throw new InvalidRequestException(TooLarge, StatusCodes.Status413PayloadTooLarge);
    }
}
