using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>
/// How many users a preview would call, and the first of them in the order they would be sent; and how many it would
/// leave out as unchanged (skipUnchanged), who are in neither.
/// </summary>
public sealed record PreviewUsers(int Count, IReadOnlyList<string> First, int Unchanged = 0);

/// <summary>A run-now's or retry-failed's preview (<c>dryRun</c>): what it would call and cost, with nothing started or changed.</summary>
public sealed record RunPreviewView(
    bool DryRun, PreviewUsers Users, int ExpectedCalls, decimal ExpectedSpend, string Currency, double ExpectedDurationSeconds, string Endpoint);

/// <summary>
/// Previews a run before it is paid for. The users are selected by the code the run itself uses (the fan-out's pages
/// and eligibility rule, a run-now's listed users, a retry's failed users); the expected spend and duration come from
/// the endpoint's recent run users, else its configured price, at its concurrency and rate. Users a skipUnchanged run
/// would leave out are classified by the run's own statement (<see cref="UnchangedUsers.PageSql"/>). Reads only.
/// </summary>
public sealed class RunPreview(NpgsqlDataSource dataSource, HostUsers users, UnchangedUsers unchangedUsers, IOptions<SchedulerOptions> options)
{
    public const int FirstUsersListed = 10;

    /// <summary>How many recent priced (or timed) run users of the endpoint the median is taken over.</summary>
    public const int HistoryUsers = 200;

    /// <summary>A call's expected duration when the endpoint has no answered call yet.</summary>
    public static readonly TimeSpan DefaultCallDuration = TimeSpan.FromSeconds(30);

    private readonly SchedulerOptions settings = options.Value;

    /// <summary>
    /// The eligible users a fan-out of <paramref name="segment"/> on <paramref name="endpoint"/> would send, walked page
    /// by page as the fan-out walks them; with <paramref name="skipUnchangedForMinutes"/>, less the unchanged ones.
    /// </summary>
    public async Task<PreviewUsers> SegmentUsersAsync(string? segment, string endpoint, int? skipUnchangedForMinutes, CancellationToken cancellationToken)
    {
        var selected = new Selection();
        string? after = null;
        while (true)
        {
            var page = await users.ReadPageAsync(after, settings.PageSize, cancellationToken, segment);
            await selected.AddAsync(page, endpoint, skipUnchangedForMinutes, unchangedUsers, cancellationToken);
            if (page.Count < settings.PageSize)
            {
                return selected.Users;
            }

            after = page[^1].Uid;
        }
    }

    /// <summary>The eligible users of a list, in the order a run-now of them sends them; with skipUnchanged, less the unchanged ones.</summary>
    public async Task<PreviewUsers> ListedUsersAsync(
        IReadOnlyList<HostUser> listed, string endpoint, int? skipUnchangedForMinutes, CancellationToken cancellationToken)
    {
        var selected = new Selection();
        foreach (var page in listed.Chunk(settings.PageSize))
        {
            await selected.AddAsync(page, endpoint, skipUnchangedForMinutes, unchangedUsers, cancellationToken);
        }

        return selected.Users;
    }

    /// <summary>The users a run would send, page after page, and those it would leave out as unchanged.</summary>
    private sealed class Selection
    {
        private readonly List<string> first = new(FirstUsersListed);
        private int count;
        private int unchanged;

        public PreviewUsers Users => new(count, first, unchanged);

        public async Task AddAsync(
            IReadOnlyList<HostUser> page, string endpoint, int? skipUnchangedForMinutes, UnchangedUsers classifier, CancellationToken cancellationToken)
        {
            var left = skipUnchangedForMinutes is null
                ? new HashSet<string>()
                : (await classifier.ClassifyAsync(page, endpoint, skipUnchangedForMinutes, cancellationToken))
                    .Where(u => u.Unchanged).Select(u => u.Uid).ToHashSet(StringComparer.Ordinal);
            unchanged += left.Count;
            foreach (var user in page.Where(u => u.IsEligible && !left.Contains(u.Uid)))
            {
                count++;
                if (first.Count < FirstUsersListed)
                {
                    first.Add(user.Uid);
                }
            }
        }
    }

    public async Task<RunPreviewView> PreviewAsync(PreviewUsers selected, string endpoint, int? maxCalls, CancellationToken cancellationToken)
    {
        var calls = Math.Min(selected.Count, maxCalls ?? int.MaxValue);
        var (medianCost, medianDurationMs) = await HistoryAsync(endpoint, cancellationToken);
        var defined = endpoint == CrewEndpointNames.Default ? null : settings.Endpoints?.GetValueOrDefault(endpoint);
        var costPerCall = medianCost ?? (defined is null ? settings.CostPerCall : defined.CostPerCall ?? settings.CostPerCall) ?? 0;
        var concurrency = defined?.MaxConcurrency ?? settings.MaxConcurrency;
        var perMinute = defined is null ? settings.CallsPerMinute : defined.CallsPerMinute ?? settings.CallsPerMinute;
        var callSeconds = medianDurationMs is { } ms ? ms / 1000.0 : DefaultCallDuration.TotalSeconds;
        var seconds = Math.Max(calls * callSeconds / concurrency, perMinute is { } rate ? calls / (rate / 60.0) : 0);
        return new RunPreviewView(true, selected, calls, calls * costPerCall, settings.CostCurrency, Math.Round(seconds, 1), endpoint);
    }

    /// <summary>The endpoint's median cost and call duration over its latest run users that have one; null without history.</summary>
    private async Task<(decimal? Cost, double? DurationMs)> HistoryAsync(string endpoint, CancellationToken cancellationToken)
    {
        // Raw SQL: ordered-set aggregates (percentile_cont) over the latest rows, which EF cannot express.
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY cost) FROM (
                    SELECT ru.cost FROM scheduler.run_users ru JOIN scheduler.runs r ON r.id = ru.run_id
                    WHERE r.endpoint = @endpoint AND ru.cost IS NOT NULL
                    ORDER BY r.started_at DESC LIMIT {HistoryUsers}) priced),
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM (
                    SELECT ru.duration_ms FROM scheduler.run_users ru JOIN scheduler.runs r ON r.id = ru.run_id
                    WHERE r.endpoint = @endpoint AND ru.duration_ms IS NOT NULL
                    ORDER BY r.started_at DESC LIMIT {HistoryUsers}) timed)
            """);
        command.Parameters.Add(new NpgsqlParameter<string>("endpoint", endpoint));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.IsDBNull(0) ? null : (decimal)reader.GetDouble(0), reader.IsDBNull(1) ? null : reader.GetDouble(1));
    }

    /// <summary>A run's failed users, in the order retry-failed sends their replays.</summary>
    public async Task<PreviewUsers> FailedUsersAsync(Guid runId, CancellationToken cancellationToken)
    {
        // Raw SQL: a count and the first uids in one round trip.
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT count(*) OVER (), user_uid FROM scheduler.run_users
            WHERE run_id = @runId AND status = '{RunUserStatus.Failed}'
            ORDER BY user_uid COLLATE "C"
            LIMIT {FirstUsersListed}
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        var (count, first) = (0, new List<string>());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            count = (int)reader.GetInt64(0);
            first.Add(reader.GetString(1));
        }

        return new PreviewUsers(count, first);
    }
}
