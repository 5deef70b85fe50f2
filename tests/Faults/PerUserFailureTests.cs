using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using CrewPlatform.Testing;

// Every stack of this project listens on the same ports: one collection at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace CrewPlatform.Faults;

/// <summary>
/// The fault stack at the CrewCaller's default settings (8 calls at once, 4 attempts, the circuit's threshold and trip
/// percentage), except a 200 ms first backoff and a 5 s circuit restart so that 22 runs take a few minutes, and a crew
/// API answering in 30 ms unless a user's own plan says otherwise.
/// </summary>
public sealed class PerUserFailureStack : FaultStack
{
    public const int MaxAttempts = 4;

    public override Dictionary<string, string?> StackEnvironment() => new(ServiceEnvironment)
    {
        ["CREW_ADMIN_TOKEN"] = null,
        ["CREW_RATE_LIMIT_PER_MINUTE"] = "100000",
        ["CREW_RETRY_BASE_DELAY_MS"] = "200",
        ["CREW_CIRCUIT_RESTART_SECONDS"] = "5",
        ["FakeCrew__LatencyMs"] = "30",
        ["FakeCrew__JitterMs"] = "0",
    };

    /// <summary>One line per run, written to <c>TestResults/per-user-failures.txt</c> (and printed by scripts/test.sh).</summary>
    public List<string> Lines { get; } = [];

    public override async Task DisposeAsync()
    {
        if (Lines.Count > 0)
        {
            var path = RepositoryFile("TestResults/per-user-failures.txt");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllLinesAsync(path, Lines);
        }

        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PerUserFailureStackCollection : ICollectionFixture<PerUserFailureStack>
{
    public const string Name = "per-user failure stack";
}

/// <summary>How the fake crew API treats one user, and what the platform must make of it.</summary>
/// <param name="Plan">The fake's plan for the user (<c>POST /admin/users</c>); null: the fake's ordinary answer.</param>
public sealed record UserKind(string Name, object? Plan, int Calls, bool Succeeds)
{
    public static readonly UserKind Ok = new("ok", null, 1, true);
    public static readonly UserKind Always500 = new("always 500", new { then = "500" }, PerUserFailureStack.MaxAttempts, false);
    public static readonly UserKind Always422 = new("always 422", new { then = "422" }, 1, false);
    public static readonly UserKind RateLimitedOnce = new("429 once", new { steps = new[] { "429" } }, 2, true);
    public static readonly UserKind UnavailableOnce = new("503 once", new { steps = new[] { "503" } }, 2, true);
    public static readonly UserKind NotJson = new("non-JSON", new { then = "non-json" }, 1, false);
    public static readonly UserKind Slow = new("slow", new { latencyMs = 1500 }, 1, true);
    public static readonly UserKind ConnectionReset = new("connection reset", new { then = "reset" }, PerUserFailureStack.MaxAttempts, false);

    public static readonly IReadOnlyList<UserKind> All = [Ok, Always500, Always422, RateLimitedOnce, UnavailableOnce, NotJson, Slow, ConnectionReset];
}

/// <summary>
/// A crew API that answers everybody, but some users badly: those users use up their own attempts and end as recorded
/// failures; nobody else waits for them, the run completes, and no user is called more often than its attempts.
/// </summary>
[Collection(PerUserFailureStackCollection.Name)]
public sealed class PerUserFailureTests(PerUserFailureStack stack)
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(4);

    /// <summary>The 21 users of the mix that the crew treats specially (the 5 last are ordinary), in uid order.</summary>
    private static readonly UserKind[] Mix =
    [
        .. Enumerable.Repeat(UserKind.Always500, 4),
        .. Enumerable.Repeat(UserKind.RateLimitedOnce, 3),
        .. Enumerable.Repeat(UserKind.UnavailableOnce, 3),
        .. Enumerable.Repeat(UserKind.NotJson, 2),
        .. Enumerable.Repeat(UserKind.Slow, 4),
        .. Enumerable.Repeat(UserKind.Ok, 5),
    ];

    [Fact]
    public async Task A_few_users_the_crew_rejects_hold_up_nobody_whether_they_come_last_or_first()
    {
        var ordinary = Enumerable.Repeat(UserKind.Ok, 100).ToList();
        await RunMixAsync("mix, failing users last", [.. ordinary, .. Mix]);
        await RunMixAsync("mix, failing users first", [.. Mix, .. ordinary]);
    }

    [Fact]
    public async Task Twenty_runs_of_randomly_failing_users_complete_with_the_fakes_truth_and_no_user_called_beyond_its_attempts()
    {
        var random = new Random(20261202);
        for (var run = 1; run <= 20; run++)
        {
            var kinds = Enumerable.Range(0, 60).Select(_ => UserKind.All[random.Next(UserKind.All.Count)]).ToList();
            await RunMixAsync($"random run {run:D2}", kinds);
        }
    }

    /// <summary>Starts a run over <paramref name="kinds"/> (one user each, in uid order) and checks it against what the fake was told.</summary>
    private async Task RunMixAsync(string name, IReadOnlyList<UserKind> kinds)
    {
        var prefix = $"puf-{Guid.NewGuid():N}"[..12];
        var users = kinds.Select((kind, i) => (Uid: $"{prefix}-u{i:D3}", Kind: kind)).ToList();
        await stack.AddUsersAsync(users.Select(u => (u.Uid, (string?)$"Business of {u.Uid}", (string?)"Grow")));
        var plans = users.Where(u => u.Kind.Plan is not null).ToDictionary(u => u.Uid, u => u.Kind.Plan!);
        if (plans.Count > 0)
        {
            using var planned = await stack.FakeCrew.PostAsJsonAsync("/admin/users", new { users = plans });
            planned.EnsureSuccessStatusCode();
        }

        var started = Stopwatch.StartNew();
        using var response = await stack.Gateway.PostAsJsonAsync("/api/scheduler", new { action = "run-now", userUids = users.Select(u => u.Uid) });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"run-now answered {(int)response.StatusCode}: {body}");
        var runId = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("runId").GetGuid();

        RunRow? run = null;
        await Eventually.HoldsAsync(
            async () => (run = await stack.TryReadRunAsync(runId))?.Status == "completed",
            $"{name}: run {runId} completes ({Describe(kinds)})", RunLimit);
        var elapsed = started.Elapsed;

        var expectedSucceeded = users.Count(u => u.Kind.Succeeds);
        Assert.Equal(new RunRow("completed", users.Count, expectedSucceeded, users.Count - expectedSucceeded, 0), run);

        var calls = (await stack.FakeCallsAsync())
            .Where(c => c.IdempotencyKey?.StartsWith($"{runId}:", StringComparison.Ordinal) == true)
            .GroupBy(c => c.IdempotencyKey![(runId.ToString().Length + 1)..])
            .ToDictionary(g => g.Key, g => g.Count());
        var wrong = users.Where(u => calls.GetValueOrDefault(u.Uid) != u.Kind.Calls)
            .Select(u => $"{u.Uid} ({u.Kind.Name}): {calls.GetValueOrDefault(u.Uid)} calls, expected {u.Kind.Calls}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{name}: " + string.Join("; ", wrong));

        var stored = await stack.RowsPerUserAsync(runId);
        Assert.Equal(users.Where(u => u.Kind.Succeeds).Select(u => u.Uid).Order(), stored.Keys.Order());
        Assert.All(stored.Values, rows => Assert.Equal(1, rows));

        var tail = await stack.ScalarAsync<double>(
            """
            SELECT extract(epoch FROM r.completed_at - (SELECT max(finished_at) FROM crew_caller.crew_calls WHERE run_id = r.id AND status = 'succeeded'))::float8
            FROM scheduler.runs r WHERE r.id = $1
            """,
            runId);
        stack.Lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"per-user failures, {name}: users={users.Count} succeeded={run!.Succeeded} failed={run.Failed} calls={calls.Values.Sum()} completed in {elapsed.TotalSeconds:0.0}s, {tail:0.0}s after the last success ({Describe(kinds)})"));
    }

    private static string Describe(IEnumerable<UserKind> kinds) =>
        string.Join(", ", kinds.GroupBy(k => k.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));
}
