using System.Text.Json;
using System.Text.Json.Serialization;
using CrewPlatform.ResponseStore.Persistence;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>The contract's crew response item, plus <c>runId</c> and <c>cost</c> (null when unknown).</summary>
public sealed record CrewResponseItem(
    int Id,
    string UserUid,
    string? RequestContext,
    string? RequestGoal,
    [property: JsonConverter(typeof(RawJsonConverter))] string ResponseData,
    DateTime? CreatedAt,
    Guid? RunId,
    decimal? Cost)
{
    public static CrewResponseItem From(CrewResponse row) =>
        new(row.Id, row.UserUid, row.RequestContext, row.RequestGoal, row.ResponseData, row.CreatedAt is { } createdAt ? DateTime.SpecifyKind(createdAt, DateTimeKind.Utc) : null, row.RunId, row.Cost);
}

/// <summary>Writes JSON text as the JSON value itself (jsonb's text is already valid JSON), not as a quoted string.</summary>
public sealed class RawJsonConverter : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.GetRawText();
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value, skipInputValidation: true);
}
