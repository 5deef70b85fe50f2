using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.Testing;
using Npgsql;

namespace CrewPlatform.Faults;

/// <summary>
/// The whole platform as real processes (<c>scripts/run-local.sh up</c>) on a private database and RabbitMQ virtual
/// host, with a crew API that takes about a second a call, for the fault scenarios to break and watch heal.
/// Scenarios run one after another on the same stack; each starts its own run and is judged on that run alone.
/// </summary>
public class FaultStack : RealInfrastructure
{
    public const int Users = 48;
    public const int Concurrency = 8;
    public const int CrewLatencyMs = 1000;

    public HttpClient Gateway { get; } = new() { BaseAddress = LocalStackScript.GatewayUrl, Timeout = TimeSpan.FromSeconds(30) };

    public HttpClient FakeCrew { get; } = new() { BaseAddress = LocalStackScript.FakeCrewUrl, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// One line per scenario of every stack of the suite (the pairs stack's too; scenarios run one at a time), written
    /// to <c>TestResults/fault-suite.txt</c> as each stack ends, so the last one to end writes them all.
    /// </summary>
    public List<ScenarioResult> Results => SuiteResults;

    private static readonly List<ScenarioResult> SuiteResults = [];

    public static string UserUid(int i) => $"fault-user-{i:D3}";

    /// <summary>
    /// The settings the stack runs with. Reliability settings stay at their defaults (30 s claim lease, drain, retry
    /// ladders, circuit) except where a scenario needs a fault to show in seconds: a 5 s crew timeout for the hanging API,
    /// short crew backoff, and a reconciler that looks every 2 s.
    /// </summary>
    public virtual Dictionary<string, string?> StackEnvironment() => new(ServiceEnvironment)
    {
        ["CREW_ADMIN_TOKEN"] = null, // the gateway uses the token run-local.sh generates, as a user's stack does
        ["CREW_RATE_LIMIT_PER_MINUTE"] = "100000",
        ["CREW_SCHEDULER_PAGE_SIZE"] = "10",
        ["CREW_SCHEDULER_RECONCILE_SECONDS"] = "2",
        ["CREW_SCHEDULER_FANOUT_STALL_SECONDS"] = "10",
        ["CREW_MAX_CONCURRENCY"] = Concurrency.ToString(CultureInfo.InvariantCulture),
        ["CREW_API_TIMEOUT_SECONDS"] = "5",
        ["CREW_RETRY_BASE_DELAY_MS"] = "500",
        ["CREW_RETRY_MAX_DELAY_SECONDS"] = "5",
        ["FakeCrew__LatencyMs"] = CrewLatencyMs.ToString(CultureInfo.InvariantCulture),
        ["FakeCrew__JitterMs"] = "200",
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync(InitialUsers());
        await StartMissingServicesAsync();
    }

    /// <summary>The users table the stack starts with: <see cref="Users"/> users, each with a context and a goal.</summary>
    protected virtual IEnumerable<(string Uid, string? Context, string? Goal)> InitialUsers() =>
        Enumerable.Range(1, Users).Select(i => (UserUid(i), (string?)$"Business {i}: a shop.", (string?)$"Goal {i}: grow."));

    public override async Task DisposeAsync()
    {
        try
        {
            await LocalStackScript.RunAsync("down", StackEnvironment());
            WriteSummary();
        }
        finally
        {
            Gateway.Dispose();
            FakeCrew.Dispose();
            await base.DisposeAsync();
        }
    }

    /// <summary>
    /// <c>run-local.sh up</c> again: starts whatever is not running (a killed service) and waits until each is ready.
    /// Then waits until the gateway routes to both back ends again: its health probe (every 5 s) may still remember a
    /// back end as down for one more probe.
    /// </summary>
    public async Task StartMissingServicesAsync()
    {
        await LocalStackScript.RunAsync("up", StackEnvironment());

        // Set once, by the first up, before anything else uses the client; the token file outlives every restart.
        Gateway.DefaultRequestHeaders.Authorization ??= new AuthenticationHeaderValue("Bearer", LocalStackScript.AdminToken());
        await Eventually.HoldsAsync(
            async () => await AnswersOkAsync("/api/scheduler") && await AnswersOkAsync("/api/crew-responses?limit=0"),
            "the gateway routes to the Scheduler and the ResponseStore again", TimeSpan.FromSeconds(60));
    }

    private async Task<bool> AnswersOkAsync(string path)
    {
        using var response = await Gateway.GetAsync(path);
        return response.IsSuccessStatusCode;
    }

    public Task<Guid> RunNowAsync() => LocalStackScript.RunNowAsync(Gateway);

    public async Task<long> StoredAnswersAsync(Guid runId) =>
        await ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE run_id = $1", runId);

    /// <summary>The run's row, or null while PostgreSQL does not answer (a scenario may have it stopped).</summary>
    public async Task<RunRow?> TryReadRunAsync(Guid runId)
    {
        try
        {
            await using var connection = new NpgsqlConnection(PostgresConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT status, dispatched, succeeded, failed, skipped FROM scheduler.runs WHERE id = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = runId });
            await using var reader = await command.ExecuteReaderAsync();
            return await reader.ReadAsync()
                ? new RunRow(reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4))
                : null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            NpgsqlConnection.ClearAllPools();
            return null;
        }
    }

    /// <summary>For each user of the run, how many <c>crew_responses</c> rows it has.</summary>
    public async Task<Dictionary<string, long>> RowsPerUserAsync(Guid runId)
    {
        await using var connection = new NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT user_uid, count(*) FROM crew_responses WHERE run_id = $1 GROUP BY user_uid", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = runId });
        var rows = new Dictionary<string, long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows[reader.GetString(0)] = reader.GetInt64(1);
        }

        return rows;
    }

    /// <summary>The calls the fake crew API received (it keeps the last 10,000), with the Idempotency-Key each carried.</summary>
    public async Task<IReadOnlyList<FakeCall>> FakeCallsAsync()
    {
        using var json = JsonDocument.Parse(await FakeCrew.GetStringAsync("/calls"));
        return json.RootElement.EnumerateArray()
            .Select(c => new FakeCall(
                c.TryGetProperty("idempotencyKey", out var key) && key.ValueKind == JsonValueKind.String ? key.GetString() : null,
                c.GetProperty("plan").GetString() ?? ""))
            .ToList();
    }

    public async Task SetFakeHangRateAsync(double rate)
    {
        using var response = await FakeCrew.PutAsJsonAsync("/admin/behaviour", new { hangRate = rate });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Messages sitting in any <c>_error</c> queue of the stack's virtual host, by queue.</summary>
    public async Task<Dictionary<string, int>> ParkedMessagesAsync()
    {
        var parked = new Dictionary<string, int>();
        foreach (var queue in (await QueueNamesAsync()).Where(q => q.EndsWith("_error", StringComparison.Ordinal)))
        {
            var count = (await PeekQueueAsync(queue)).Count;
            if (count > 0)
            {
                parked[queue] = count;
            }
        }

        return parked;
    }

    private void WriteSummary()
    {
        if (Results.Count == 0)
        {
            return;
        }

        var text = new StringBuilder();
        foreach (var r in Results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"fault {r.Name}: users={r.Users} extra-paid-calls={r.ExtraPaidCalls} (allowed: {r.AllowedExtraPaidCalls}, the calls a crash may cut) recovery={r.RecoverySeconds:0.0}s (crew time left {r.CrewSecondsLeft:0.0}s)");
        }

        text.AppendLine(CultureInfo.InvariantCulture,
            $"fault suite: {Results.Count} scenarios, {Results.Sum(r => r.Users)} users, {Results.Sum(r => r.ExtraPaidCalls)} extra paid calls, recovery max {Results.Max(r => r.RecoverySeconds - r.CrewSecondsLeft):0.0}s beyond the crew time left");
        var path = RepositoryFile("TestResults/fault-suite.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
    }
}

public sealed record RunRow(string Status, int Dispatched, int Succeeded, int Failed, int Skipped);

/// <summary>One call the fake received: its Idempotency-Key (<c>runId:userUid</c>) and what the fake did with it.</summary>
public sealed record FakeCall(string? IdempotencyKey, string Plan);

public sealed record ScenarioResult(string Name, int Users, int ExtraPaidCalls, int AllowedExtraPaidCalls, double RecoverySeconds, double CrewSecondsLeft);

[CollectionDefinition(Name)]
public sealed class FaultStackCollection : ICollectionFixture<FaultStack>
{
    public const string Name = "fault stack";
}
