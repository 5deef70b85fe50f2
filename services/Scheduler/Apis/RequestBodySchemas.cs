using System.Globalization;
using CrewPlatform.Scheduler.Runs;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace CrewPlatform.Scheduler.Apis;

/// <summary>
/// The OpenAPI schemas of the bodies that carry a run's budget and <c>skipUnchanged</c> (<see cref="SchedulerAction"/>,
/// <see cref="ScheduleChange"/>, <see cref="NewSchedule"/>): their records hold those fields as change records
/// (<see cref="RunLimitsChange"/>, <see cref="SkipUnchangedChange"/>), so the fields are described as a body gives them.
/// </summary>
public static class RequestBodySchemas
{
    public static Task DescribeAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        if (context.JsonPropertyInfo is not null || !(type == typeof(SchedulerAction) || type.IsAssignableTo(typeof(ScheduleChange))))
        {
            return Task.CompletedTask;
        }

        schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
        schema.Properties[RunLimitsChange.Fields[0]] = new OpenApiSchema
        {
            Type = JsonSchemaType.Integer | JsonSchemaType.Null, Format = "int32", Minimum = "1",
            Description = "At most this many crew calls in a run; null: no limit",
        };
        schema.Properties[RunLimitsChange.Fields[1]] = new OpenApiSchema
        {
            Type = JsonSchemaType.Number | JsonSchemaType.Null, Minimum = "0", Description = "At most this much spent on a run; null: no limit",
        };
        schema.Properties[RunLimitsChange.Fields[2]] = new OpenApiSchema
        {
            Type = JsonSchemaType.Number | JsonSchemaType.Null, Minimum = "0",
            Description = "At most this much spent per UTC day by the schedule's runs; null: no limit",
        };
        schema.Properties[SkipUnchangedChange.Field] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object | JsonSchemaType.Null,
            Description = "Users whose latest answer on the run's crew endpoint is younger than freshForMinutes and came from exactly "
                + "their current context and goal are not called (recorded as unchanged); null: everyone is called",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                [SkipUnchangedChange.MinutesField] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1",
                    Maximum = UnchangedUsers.MaxFreshForMinutes.ToString(CultureInfo.InvariantCulture),
                },
            },
            Required = new HashSet<string> { SkipUnchangedChange.MinutesField },
            AdditionalPropertiesAllowed = false,
        };
        return Task.CompletedTask;
    }
}
