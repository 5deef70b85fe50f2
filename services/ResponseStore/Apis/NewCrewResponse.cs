using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The POST body <c>{userUid, requestContext?, requestGoal?, responseData}</c>, checked field by field. Parsed by hand
/// rather than bound to a record: JSON binding cannot tell the contract's messages apart ("Request body must be a JSON
/// object", "userUid must be a string" and a syntax error all surface as the same JsonException), nor report a 1 MiB
/// cap that TestServer does not enforce.
/// </summary>
public sealed record NewCrewResponse(
    string UserUid,
    [property: Description("The crew's answer: a JSON object or array, stored as it is")]
    [property: JsonConverter(typeof(RawJsonConverter))] string ResponseData,
    string? RequestContext = null,
    string? RequestGoal = null)
{
    public const long MaxBodyBytes = 1024 * 1024;
    public const string RequiredFields = "userUid and responseData are required";
    public const string UnstorableData = "responseData contains a value that cannot be stored as JSON";

    /// <summary>The body's fields; any other is refused (400) naming it.</summary>
    private static readonly string[] Fields = ["userUid", "requestContext", "requestGoal", "responseData"];

    public CrewResponse ToRow() =>
        new() { UserUid = UserUid, RequestContext = RequestContext, RequestGoal = RequestGoal, ResponseData = ResponseData };

    public static async ValueTask<NewCrewResponse> BindAsync(HttpContext http)
    {
        using var document = ParseJson(await ReadBodyAsync(http));
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Bad("Request body must be a JSON object");
        }

        if (JsonShape.UnknownFields(root, "a crew response", Fields) is { } unknownFields)
        {
            throw Bad(unknownFields);
        }

        var hasUser = root.TryGetProperty("userUid", out var user) && user.ValueKind != JsonValueKind.Null
            && !(user.ValueKind == JsonValueKind.String && user.ValueEquals(""));
        if (!hasUser || !root.TryGetProperty("responseData", out var data) || data.ValueKind == JsonValueKind.Null)
        {
            throw Bad(RequiredFields);
        }

        if (user.ValueKind != JsonValueKind.String)
        {
            throw Bad("userUid must be a string");
        }

        if (data.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
        {
            throw Bad("responseData must be a JSON object or array");
        }

        if (!IsStorableJson(data))
        {
            throw Bad(UnstorableData);
        }

        var context = OptionalText(root, "requestContext");
        var goal = OptionalText(root, "requestGoal");
        if (TryGetString(user) is not { Length: <= 255 } userUid || !StorableText.IsStorable(userUid))
        {
            // No such uid can be in users (varchar(255), no U+0000).
            throw new InvalidRequestException(CrewResponsesApi.UserDoesNotExist, StatusCodes.Status422UnprocessableEntity);
        }

        return new NewCrewResponse(userUid, data.GetRawText(), context, goal);
    }

    /// <summary>
    /// Reads at most <see cref="MaxBodyBytes"/>: the declared length is checked first, and the limit is enforced while
    /// reading too, for chunked bodies and for hosts (TestServer) that do not apply Kestrel's limit.
    /// </summary>
    private static async Task<byte[]> ReadBodyAsync(HttpContext http)
    {
        byte[]? body = null;
        if (http.Request.ContentLength is not > MaxBodyBytes)
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxBodyBytes + 1;
            }

            try
            {
                body = await CappedRead.ReadAsync(http.Request.Body, MaxBodyBytes, http.RequestAborted);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Kestrel's own limit, set just above.
            }
        }

        return body ?? throw new InvalidRequestException("Request body must not exceed 1 MiB", StatusCodes.Status413PayloadTooLarge);
    }

    private static JsonDocument ParseJson(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw Bad("Request body is not valid JSON");
        }
    }

    /// <summary>jsonb refuses "\u0000" and escaped lone surrogates inside strings and property names.</summary>
    private static bool IsStorableJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().All(p => IsStorableName(p) && IsStorableJson(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().All(IsStorableJson),
        JsonValueKind.String => TryGetString(element) is { } value && StorableText.IsStorable(value),
        _ => true,
    };

    private static bool IsStorableName(JsonProperty property)
    {
        try
        {
            return StorableText.IsStorable(property.Name);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string? OptionalText(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            throw Bad($"{name} must be a string or null");
        }

        return TryGetString(element) is { } value && StorableText.IsStorable(value)
            ? value
            : throw Bad($"{name} contains characters that cannot be stored");
    }

    private static string? TryGetString(JsonElement element) => JsonShape.TryGetString(element, out var value) ? value : null;

    private static InvalidRequestException Bad(string error) => new(error);
}
