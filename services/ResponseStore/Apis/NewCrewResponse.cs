using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The POST body <c>{userUid, requestContext?, requestGoal?, responseData, cost?}</c>, read as every body is
/// (<see cref="JsonRequestBody"/>) and checked field by field with the contract's messages.
/// </summary>
public sealed record NewCrewResponse(
    string UserUid,
    [property: Description("The crew's answer: a JSON object or array, stored as it is")]
    [property: JsonConverter(typeof(RawJsonConverter))] string ResponseData,
    string? RequestContext = null,
    string? RequestGoal = null,
    [property: Description("What the crew call cost, a number >= 0 in the operator's currency; null or absent when unknown")]
    decimal? Cost = null)
{
    public const string RequiredFields = "userUid and responseData are required";
    public const string UnstorableData = "responseData contains a value that cannot be stored as JSON";
    public const string InvalidCost = "cost must be a number >= 0 or null";

    /// <summary>The body's fields; any other is refused (400) naming it.</summary>
    private static readonly string[] Fields = ["userUid", "requestContext", "requestGoal", "responseData", "cost"];

    public static async ValueTask<NewCrewResponse> BindAsync(HttpContext http)
    {
        using var body = await JsonRequestBody.ReadAsync(http, "a crew response", Fields);
        var root = body.Root;
        if (body.Field("userUid") is not { } user || (user.ValueKind == JsonValueKind.String && user.ValueEquals(""))
            || body.Field("responseData") is not { } data)
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
        var cost = OptionalCost(root);
        if (TryGetString(user) is not { Length: <= 255 } userUid || !StorableText.IsStorable(userUid))
        {
            // No such uid can be in users (varchar(255), no U+0000).
            throw new InvalidRequestException(CrewResponsesApi.UserDoesNotExist, StatusCodes.Status422UnprocessableEntity);
        }

        return new NewCrewResponse(userUid, data.GetRawText(), context, goal, cost);
    }

    private static decimal? OptionalCost(JsonElement root) =>
        !root.TryGetProperty("cost", out var element) || element.ValueKind == JsonValueKind.Null
            ? null
            : element.ValueKind == JsonValueKind.Number && element.TryGetDecimal(out var cost) && cost >= 0
                ? cost
                : throw Bad(InvalidCost);

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
