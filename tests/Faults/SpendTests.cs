using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.Faults;

/// <summary>
/// The fault stack with two CrewCaller instances of 4 calls at once each (8 in all), a crew API answering in about
/// 200 ms with its cost in the answer (<c>usage.total_cost</c>, 0.05 a call, read through <c>CREW_COST_POINTER</c>;
/// the fixed price of 0.04 is only the estimate calls are reserved at),
/// 300 users, and webhooks allowed to a local target so the budget's webhook can be seen queued.
/// </summary>
public sealed class SpendStack : FaultStack
{
    public const int SpendUsers = 300;
    public const int CallersConcurrency = 4;
    public const int Callers = 2;
    public const decimal CostPerAnswer = 0.05m;

    /// <summary>The endpoint's fixed price, below what the crew really charges: a call is reserved at it and settled at the answer's figure.</summary>
    public const decimal EstimatedCost = 0.04m;

    /// <summary>The calls that can be in flight at once over both instances: what a budget or a cancel may let finish.</summary>
    public const int InFlight = CallersConcurrency * Callers;

    public static string SpendUserUid(int i) => $"spend-user-{i:D3}";

    protected override IEnumerable<(string Uid, string? Context, string? Goal)> InitialUsers() =>
        Enumerable.Range(1, SpendUsers).Select(i => (SpendUserUid(i), (string?)$"Business {i}: a bakery.", (string?)$"Goal {i}: sell more."));

    public override Dictionary<string, string?> StackEnvironment() => new(ServiceEnvironment)
    {
        ["CREW_ADMIN_TOKEN"] = null,
        ["CREW_RATE_LIMIT_PER_MINUTE"] = "100000",
        ["CREW_CALLER_REPLICAS"] = Callers.ToString(CultureInfo.InvariantCulture),
        ["CREW_MAX_CONCURRENCY"] = CallersConcurrency.ToString(CultureInfo.InvariantCulture),
        ["CREW_COST_POINTER"] = "/usage/total_cost",
        ["CREW_COST_PER_CALL"] = EstimatedCost.ToString(CultureInfo.InvariantCulture),
        ["CREW_SCHEDULER_PAGE_SIZE"] = "50",
        ["CREW_SCHEDULER_RECONCILE_SECONDS"] = "2",
        ["CREW_SCHEDULER_FANOUT_STALL_SECONDS"] = "10",
        ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true",
        ["FakeCrew__LatencyMs"] = "200",
        ["FakeCrew__JitterMs"] = "50",
        ["FakeCrew__CostPerAnswer"] = CostPerAnswer.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The calls the fake received for one run: each is a paid call.</summary>
    public async Task<int> PaidCallsAsync(Guid runId) =>
        (await FakeCallsAsync()).Count(c => c.IdempotencyKey?.StartsWith($"{runId}:", StringComparison.Ordinal) == true);

    /// <summary>POSTs an action or a cancel and returns the status and the <c>data</c> of the answer.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Data)> PostAsync(string path, object? body = null)
    {
        using var response = await Gateway.PostAsJsonAsync(path, body ?? new { });
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        return (response.StatusCode, json.RootElement.TryGetProperty("data", out var data) ? data.Clone() : json.RootElement.Clone());
    }

    /// <summary>A run-now with the given fields; the new run's id (fails unless 202).</summary>
    public async Task<Guid> RunNowAsync(Dictionary<string, object> fields)
    {
        var (status, data) = await PostAsync("/api/scheduler", new Dictionary<string, object>(fields) { ["action"] = "run-now" });
        Assert.True(status == HttpStatusCode.Accepted, $"run-now answered {(int)status}: {data}");
        return data.GetProperty("runId").GetGuid();
    }

    public async Task<JsonElement> RunAsync(Guid runId)
    {
        using var json = JsonDocument.Parse(await Gateway.GetStringAsync($"/api/scheduler/runs/{runId}"));
        return json.RootElement.GetProperty("data").Clone();
    }

    /// <summary>Waits until the run has ended (completed or cancelled) and returns its details.</summary>
    public async Task<JsonElement> EndedRunAsync(Guid runId)
    {
        JsonElement run = default;
        try
        {
            await Eventually.HoldsAsync(
                async () => (run = await RunAsync(runId)).GetProperty("status").GetString() is "completed" or "cancelled",
                $"run {runId} ends by itself", TimeSpan.FromMinutes(4));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n{await WhereTheRunStandsAsync(runId, run)}", ex);
        }

        return run;
    }

    /// <summary>What a run that did not end is waiting for: its counters, its users and ledger rows by status, the messages queued.</summary>
    private async Task<string> WhereTheRunStandsAsync(Guid runId, JsonElement run)
    {
        var ledger = new Dictionary<string, long>();
        await using (var connection = OpenConnection())
        await using (var command = new Npgsql.NpgsqlCommand(
            "SELECT status || coalesce(':' || last_error, ''), count(*) FROM crew_caller.crew_calls WHERE run_id = $1 GROUP BY 1", connection))
        {
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = runId });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ledger[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        using var management = ManagementClient();
        using var queues = JsonDocument.Parse(await management.GetStringAsync($"queues/{Uri.EscapeDataString(Name)}?columns=name,messages"));
        var queued = queues.RootElement.EnumerateArray()
            .Where(q => q.TryGetProperty("messages", out var messages) && messages.GetInt64() > 0)
            .Select(q => $"{q.GetProperty("name").GetString()}={q.GetProperty("messages").GetInt64()}");

        static string Counts(Dictionary<string, long> counts) => string.Join(", ", counts.Select(kv => $"{kv.Key}={kv.Value}"));
        return $"""
            run: {run}
            scheduler run_users: {Counts(await RunUsersByStatusAsync(runId))}
            crew caller ledger: {Counts(ledger)}
            queued: {string.Join(", ", queued)}
            {LocalStackScript.ServiceLogTails(8)}
            """;
    }

    /// <summary>The run's users by status (and reason, for skipped ones), from the Scheduler's own table.</summary>
    public async Task<Dictionary<string, long>> RunUsersByStatusAsync(Guid runId)
    {
        await using var connection = OpenConnection();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT status || coalesce(':' || reason, ''), count(*) FROM scheduler.run_users WHERE run_id = $1 GROUP BY 1", connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = runId });
        var counts = new Dictionary<string, long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }
}

[CollectionDefinition(Name)]
public sealed class SpendStackCollection : ICollectionFixture<SpendStack>
{
    public const string Name = "spend stack";
}

/// <summary>
/// Spend and pace on the real stack (README, "Spend and pace"): a budget holds across two CrewCaller instances and a
/// <c>kill -9</c> of one; a cancel calls nobody beyond the calls in flight; a preview expects exactly the calls the run
/// then makes and changes nothing. Each test starts its own run and is judged on that run alone, from the fake crew
/// API's calls, the database and the broker.
/// </summary>
[Collection(SpendStackCollection.Name)]
public sealed class SpendTests(SpendStack stack)
{
    private const int CallBudget = 100;

    [Fact]
    public async Task A_call_budget_of_100_over_300_users_and_two_crew_callers_pays_for_exactly_100_calls()
    {
        await SubscribeAsync("run.budget-exhausted");
        var runId = await stack.RunNowAsync(new() { ["maxCallsPerRun"] = CallBudget });
        var run = await stack.EndedRunAsync(runId);

        Assert.Equal(CallBudget, await stack.PaidCallsAsync(runId));
        AssertRun(run, status: "completed", succeeded: CallBudget, skipped: SpendStack.SpendUsers - CallBudget, cancelled: 0);
        Assert.True(run.GetProperty("budgetExhausted").GetBoolean());
        Assert.Equal(CallBudget * SpendStack.CostPerAnswer, run.GetProperty("spent").GetDecimal());
        Assert.Equal(
            new Dictionary<string, long> { ["succeeded"] = CallBudget, ["skipped:budget"] = SpendStack.SpendUsers - CallBudget },
            await stack.RunUsersByStatusAsync(runId));
        await Eventually.HoldsAsync(
            async () => await stack.ScalarAsync<long>(
                "SELECT count(*) FROM webhooks.deliveries WHERE event_type = 'run.budget-exhausted' AND payload LIKE '%' || $1 || '%'", runId.ToString()) == 1,
            $"one run.budget-exhausted webhook is queued for run {runId}");
        Assert.Empty(await stack.ParkedMessagesAsync());
    }

    [Fact]
    public async Task A_spend_budget_is_exceeded_by_no_more_than_the_calls_in_flight()
    {
        const decimal budget = 2.00m;
        var runId = await stack.RunNowAsync(new() { ["maxSpendPerRun"] = budget });
        var run = await stack.EndedRunAsync(runId);

        var paid = await stack.PaidCallsAsync(runId);
        var spent = run.GetProperty("spent").GetDecimal();
        Assert.Equal(paid * SpendStack.CostPerAnswer, spent);
        Assert.True(spent >= budget, $"the run stopped at {spent} before its budget of {budget} ran out");
        Assert.True(spent <= budget + (SpendStack.InFlight * SpendStack.CostPerAnswer),
            $"the run spent {spent}: more than its budget of {budget} and the {SpendStack.InFlight} calls that can be in flight");
        AssertRun(run, status: "completed", succeeded: paid, skipped: SpendStack.SpendUsers - paid, cancelled: 0);
        Assert.True(run.GetProperty("budgetExhausted").GetBoolean());
        Assert.Empty(await stack.ParkedMessagesAsync());
    }

    [Fact]
    public async Task A_call_budget_holds_when_a_crew_caller_is_killed_mid_run()
    {
        var runId = await stack.RunNowAsync(new() { ["maxCallsPerRun"] = CallBudget });
        await Eventually.HoldsAsync(async () => await stack.StoredAnswersAsync(runId) >= 30, $"run {runId} has 30 answers before the kill", TimeSpan.FromMinutes(2));
        try
        {
            Outages.Kill(LocalStackScript.ServicePid("crew-caller"));
        }
        finally
        {
            await stack.StartMissingServicesAsync();
        }

        var run = await stack.EndedRunAsync(runId);
        var paid = await stack.PaidCallsAsync(runId);
        Assert.True(paid <= CallBudget, $"{paid} paid calls for a budget of {CallBudget} calls");
        var rows = await stack.RowsPerUserAsync(runId);
        Assert.All(rows, row => Assert.Equal(1, row.Value));

        // A call the kill cut counts as a paid call; when its repeat finds the budget spent, its user ends failed (the
        // call was paid for, its answer lost), never skipped. At most the killed instance's calls in flight.
        var failed = run.GetProperty("failed").GetInt32();
        Assert.True(failed <= SpendStack.CallersConcurrency, $"{failed} users failed; only the {SpendStack.CallersConcurrency} calls the kill cut may");
        var byStatus = await stack.RunUsersByStatusAsync(runId);
        Assert.Equal(failed, byStatus.Where(s => s.Key.StartsWith("failed:budget exhausted after ", StringComparison.Ordinal)).Sum(s => s.Value));
        AssertRun(run, status: "completed", succeeded: rows.Count, skipped: SpendStack.SpendUsers - rows.Count - failed, cancelled: 0, failed: failed);
        Assert.True(rows.Count >= CallBudget - SpendStack.InFlight, $"only {rows.Count} users answered for a budget of {CallBudget} calls");
        Assert.Empty(await stack.ParkedMessagesAsync());
    }

    [Fact]
    public async Task A_run_cancelled_at_a_third_calls_nobody_beyond_the_calls_in_flight_and_ends_cancelled()
    {
        const int users = 200;
        var uids = Enumerable.Range(1, users).Select(SpendStack.SpendUserUid).ToList();
        var runId = await stack.RunNowAsync(new() { ["userUids"] = uids });
        await Eventually.HoldsAsync(async () => await stack.StoredAnswersAsync(runId) >= users / 3, $"run {runId} has a third of its answers", TimeSpan.FromMinutes(2));

        // The 202 comes once the crew caller has recorded the cancel: from then on only the calls already claimed start.
        Assert.Equal(HttpStatusCode.Accepted, (await stack.PostAsync($"/api/scheduler/runs/{runId}/cancel")).Status);
        var startedBefore = await stack.PaidCallsAsync(runId);
        Assert.Equal(HttpStatusCode.Accepted, (await stack.PostAsync($"/api/scheduler/runs/{runId}/cancel")).Status);
        var run = await stack.EndedRunAsync(runId);

        var paid = await stack.PaidCallsAsync(runId);
        Assert.True(paid <= startedBefore + SpendStack.InFlight,
            $"{paid} paid calls: {startedBefore} had started before the cancel, and at most {SpendStack.InFlight} more may have been in flight");
        var byStatus = await stack.RunUsersByStatusAsync(runId);
        Assert.Equal(users - paid, byStatus.GetValueOrDefault("cancelled"));
        Assert.Equal(paid, byStatus.GetValueOrDefault("succeeded"));
        AssertRun(run, status: "cancelled", succeeded: paid, skipped: 0, cancelled: users - paid);
        Assert.Equal(paid, await stack.StoredAnswersAsync(runId));
        Assert.Equal(HttpStatusCode.Conflict, (await stack.PostAsync($"/api/scheduler/runs/{runId}/cancel")).Status);
        Assert.Empty(await stack.ParkedMessagesAsync());
    }

    [Fact]
    public async Task A_preview_expects_the_calls_the_run_then_makes_and_changes_nothing()
    {
        var uids = Enumerable.Range(101, 60).Select(SpendStack.SpendUserUid).ToList();
        var before = await RowCountsAsync();
        var callsBefore = (await stack.FakeCallsAsync()).Count;

        var (status, preview) = await stack.PostAsync("/api/scheduler", new { action = "run-now", userUids = uids, maxCallsPerRun = 40, dryRun = true });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(preview.GetProperty("dryRun").GetBoolean());
        Assert.Equal(uids.Count, preview.GetProperty("users").GetProperty("count").GetInt32());
        Assert.Equal(uids.Take(10), preview.GetProperty("users").GetProperty("first").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal(40, preview.GetProperty("expectedCalls").GetInt32());
        Assert.True(preview.GetProperty("expectedSpend").GetDecimal() >= 40 * SpendStack.EstimatedCost, $"40 calls at a price of at least {SpendStack.EstimatedCost}: {preview}");
        Assert.True(preview.GetProperty("expectedDurationSeconds").GetDouble() > 0, $"{preview}");
        Assert.Equal(before, await RowCountsAsync());
        Assert.Equal(callsBefore, (await stack.FakeCallsAsync()).Count);

        var runId = await stack.RunNowAsync(new() { ["userUids"] = uids, ["maxCallsPerRun"] = 40 });
        await stack.EndedRunAsync(runId);
        Assert.Equal(preview.GetProperty("expectedCalls").GetInt32(), await stack.PaidCallsAsync(runId));
    }

    private static void AssertRun(JsonElement run, string status, int succeeded, int skipped, int cancelled, int failed = 0)
    {
        Assert.Equal(status, run.GetProperty("status").GetString());
        Assert.Equal(succeeded, run.GetProperty("succeeded").GetInt32());
        Assert.Equal(failed, run.GetProperty("failed").GetInt32());
        Assert.Equal(skipped, run.GetProperty("skipped").GetInt32());
        Assert.Equal(cancelled, run.GetProperty("cancelled").GetInt32());
        Assert.Equal(
            run.GetProperty("dispatched").GetInt32(),
            run.GetProperty("succeeded").GetInt32() + run.GetProperty("failed").GetInt32());
    }

    private async Task<(long Runs, long RunUsers, long Responses)> RowCountsAsync() => (
        await stack.ScalarAsync<long>("SELECT count(*) FROM scheduler.runs"),
        await stack.ScalarAsync<long>("SELECT count(*) FROM scheduler.run_users"),
        await stack.ScalarAsync<long>("SELECT count(*) FROM crew_responses"));

    private async Task SubscribeAsync(string eventType)
    {
        var (status, data) = await stack.PostAsync("/api/webhooks", new { url = "http://127.0.0.1:9/hook", events = new[] { eventType } });
        Assert.True(status == HttpStatusCode.Created, $"subscribing answered {(int)status}: {data}");
    }
}
