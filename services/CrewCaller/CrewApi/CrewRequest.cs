using System.Text.Json.Serialization;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>The crew API's request body. Missing values are sent as explicit nulls, as the original did.</summary>
public sealed record CrewRequest(
    [property: JsonPropertyName("customer_business_background_latest"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Context,
    [property: JsonPropertyName("customer_goal_latest"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Goal);
