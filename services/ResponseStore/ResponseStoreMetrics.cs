using System.Diagnostics.Metrics;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ResponseStore.Retention;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.ResponseStore;

/// <summary>The ResponseStore's metrics, each defined here once.</summary>
public sealed class ResponseStoreMetrics
{
    private readonly Counter<long> answers;

    private readonly Counter<long> retentionDeleted;

    public ResponseStoreMetrics(IMeterFactory meterFactory)
    {
        var meter = PlatformMeters.Create(meterFactory, "ResponseStore");
        answers = meter.CreateCounter<long>(
            "response_store_answers", description:
            "Crew answers received, by result: stored (a new row), already_stored (a redelivery), user_missing, unstorable (not storable as jsonb)");
        retentionDeleted = meter.CreateCounter<long>(
            "crew_responses_retention_deleted", description:
            "Answers the retention pass deleted, by reason: age (older than CREW_RESPONSES_RETAIN_DAYS), per_user (beyond a user's newest CREW_RESPONSES_KEEP_PER_USER)");
    }

    public void BatchStored(IEnumerable<StoreOutcome> outcomes)
    {
        foreach (var group in outcomes.GroupBy(Result))
        {
            answers.Add(group.Count(), new KeyValuePair<string, object?>("result", group.Key));
        }
    }

    /// <summary>Adds both reasons on every pass that ran, zeros included, so both series exist from the first pass.</summary>
    public void RetentionDeleted(RetentionPass pass)
    {
        retentionDeleted.Add(pass.ByAge, new KeyValuePair<string, object?>("reason", "age"));
        retentionDeleted.Add(pass.ByPerUserCap, new KeyValuePair<string, object?>("reason", "per_user"));
    }

    private static string Result(StoreOutcome outcome) => outcome switch
    {
        StoreOutcome.Stored { Inserted: true } => "stored",
        StoreOutcome.Stored => "already_stored",
        StoreOutcome.UserMissing => "user_missing",
        _ => "unstorable",
    };
}
