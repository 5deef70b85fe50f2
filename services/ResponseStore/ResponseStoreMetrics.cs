using System.Diagnostics.Metrics;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.ResponseStore;

/// <summary>The ResponseStore's metrics, each defined here once.</summary>
public sealed class ResponseStoreMetrics(IMeterFactory meterFactory)
{
    private readonly Counter<long> answers = PlatformMeters.Create(meterFactory, "ResponseStore").CreateCounter<long>(
        "response_store_answers", description:
        "Crew answers received, by result: stored (a new row), already_stored (a redelivery), user_missing, unstorable (not storable as jsonb)");

    public void BatchStored(IEnumerable<StoreOutcome> outcomes)
    {
        foreach (var group in outcomes.GroupBy(Result))
        {
            answers.Add(group.Count(), new KeyValuePair<string, object?>("result", group.Key));
        }
    }

    private static string Result(StoreOutcome outcome) => outcome switch
    {
        StoreOutcome.Stored { Inserted: true } => "stored",
        StoreOutcome.Stored => "already_stored",
        StoreOutcome.UserMissing => "user_missing",
        _ => "unstorable",
    };
}
