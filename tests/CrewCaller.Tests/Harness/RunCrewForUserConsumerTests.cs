using System.Net;
using CrewPlatform.CrewCaller.Consumers;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>The consumer's decisions: what it retries, what it publishes, that giving up is no fault, and that it calls once per (run, user).</summary>
public sealed class RunCrewForUserConsumerTests(CrewCallerDatabase database) : IClassFixture<CrewCallerDatabase>
{
    [Fact]
    public async Task An_answer_is_published_with_the_body_exactly_as_received_and_recorded_in_the_ledger()
    {
        const string body = """{ "Questions" : [ {"Question 1":"Why?", "Answers":["Because \u00e9"]} ],  "extra":1 }""";
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.OK, body);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser(context: "A bakery", goal: null);

        await scope.SendAsync(command);
        var received = await scope.ReceivedAsync(command);

        Assert.Equal(body, received.ResponseJson);
        Assert.Equal(1, received.Attempts);
        Assert.Equal("A bakery", received.RequestContext);
        Assert.Null(received.RequestGoal);
        Assert.Equal(new CrewApi.CrewRequest("A bakery", null), Assert.Single(crew.Requests));
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("succeeded", 1, body), (row!.Status, row.Attempts, row.ResponseJson));
    }

    [Theory]
    [InlineData(HttpStatusCode.RequestTimeout)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.GatewayTimeout)]
    public async Task A_transient_status_is_retried_and_the_answer_counts_the_attempts(HttpStatusCode transient)
    {
        var crew = new ScriptedCrewApi().ThenAnswer(transient).ThenAnswer(transient);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var received = await scope.ReceivedAsync(command);

        Assert.Equal(3, received.Attempts);
        Assert.Equal(3, crew.Calls);
        Assert.Null(await scope.ConsumedAsync(command));
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.UnprocessableEntity)]
    public async Task A_client_error_is_not_retried_and_publishes_the_failure_as_an_outcome_not_a_fault(HttpStatusCode permanent)
    {
        var crew = new ScriptedCrewApi().ThenAnswer(permanent);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var failed = await scope.FailedAsync(command);

        Assert.Equal((int)permanent, failed.StatusCode);
        Assert.Equal(1, failed.Attempts);
        Assert.Equal($"HTTP {(int)permanent} from crew API", failed.Reason);
        Assert.Null(await scope.ConsumedAsync(command));
        Assert.Equal(1, crew.Calls);
        Assert.Empty(scope.PublishedSoFar<Contracts.CrewResponseReceived>());
    }

    [Theory]
    [InlineData("Agent stopped due to iteration limit or time limit.")]
    [InlineData("\"just a JSON string\"")]
    [InlineData("{\"Questions\": [")]
    public async Task A_body_that_is_not_a_JSON_object_or_array_is_a_permanent_failure(string body)
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.OK, body);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var failed = await scope.FailedAsync(command);

        Assert.Equal(("non-JSON body", 200, 1), (failed.Reason, failed.StatusCode, failed.Attempts));
        Assert.Equal(1, crew.Calls);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("failed", "non-JSON body"), (row!.Status, row.LastError));
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_a_permanent_failure()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.OK, $$"""{"Questions":"{{new string('x', 200)}}"}""");
        await using var scope = await HarnessScope.StartAsync(database, crew, new Dictionary<string, string?> { ["CREW_MAX_RESPONSE_BYTES"] = "100" });
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var failed = await scope.FailedAsync(command);

        Assert.Equal("body larger than 100 bytes", failed.Reason);
        Assert.Equal(1, crew.Calls);
    }

    [Fact]
    public async Task Connection_errors_are_retried_up_to_the_attempt_limit_then_the_failure_is_recorded_and_the_command_completes()
    {
        var crew = new ScriptedCrewApi { Fallback = _ => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused") };
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var failed = await scope.FailedAsync(command);

        Assert.Equal(3, failed.Attempts);
        Assert.Null(failed.StatusCode);
        Assert.StartsWith("connection error", failed.Reason, StringComparison.Ordinal);
        Assert.Null(await scope.ConsumedAsync(command));
        Assert.Equal(3, crew.Calls);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("failed", 3, (int?)null), (row!.Status, row.Attempts, row.LastStatusCode));
    }

    [Fact]
    public async Task An_attempt_that_outlasts_the_timeout_is_abandoned_and_retried()
    {
        var crew = new ScriptedCrewApi().ThenHang();
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var received = await scope.ReceivedAsync(command);

        Assert.Equal(2, received.Attempts);
        Assert.Equal(2, crew.Calls);
    }

    [Fact]
    public async Task A_command_for_a_user_already_answered_in_the_run_republishes_the_answer_without_calling_again()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.OK, """{"Questions":["first"]}""");
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        await scope.ReceivedAsync(command);
        await scope.SendAsync(command);
        await scope.ConsumedAsync(command, expectedConsumptions: 2);
        var again = await scope.ReceivedAsync(command, index: 1);

        Assert.Equal(1, crew.Calls);
        Assert.Equal("""{"Questions":["first"]}""", again.ResponseJson);
    }

    [Fact]
    public async Task A_replayed_command_whose_call_had_failed_calls_the_crew_again()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.BadRequest);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        await scope.FailedAsync(command);
        await scope.SendAsync(command with { ReplayFailed = true });
        var received = await scope.ReceivedAsync(command);

        Assert.Equal(2, crew.Calls);
        Assert.Equal(1, received.Attempts);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("succeeded", 2), (row!.Status, row.Attempts));
    }

    [Fact]
    public async Task A_duplicate_for_a_user_whose_call_failed_republishes_the_recorded_failure_without_calling()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.ServiceUnavailable).ThenAnswer(HttpStatusCode.BadRequest);
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var first = await scope.FailedAsync(command);

        // Done with, not only announced: a copy arriving while the first still holds the user would be handed back.
        await scope.ConsumedAsync(command);
        await scope.SendAsync(command);
        await scope.ConsumedAsync(command, expectedConsumptions: 2);
        var failures = scope.PublishedSoFar<Contracts.CrewCallFailed>().Where(m => m.UserUid == command.UserUid).ToList();

        Assert.Equal(2, crew.Calls);
        Assert.Equal(2, failures.Count);
        Assert.Equal((first.Reason, first.StatusCode, 2), (failures[1].Reason, failures[1].StatusCode, failures[1].Attempts));
        Assert.Equal("HTTP 400 from crew API", failures[1].Reason);
    }

    [Fact]
    public async Task Every_attempt_carries_the_run_and_user_as_its_idempotency_key()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.BadGateway).ThenRefuseConnection();
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        await scope.ReceivedAsync(command);

        Assert.Equal(Enumerable.Repeat($"{command.RunId}:{command.UserUid}", 3), crew.IdempotencyKeys);
    }

    [Fact]
    public async Task A_claim_left_by_a_crashed_instance_is_taken_over_once_its_lease_runs_out()
    {
        var crew = new ScriptedCrewApi();
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();
        await database.ClaimAsAnotherInstanceAsync(command, "crashed-instance", "1 second");

        await scope.SendAsync(command);
        await scope.ReceivedAsync(command);

        Assert.Equal(1, crew.Calls);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal("succeeded", row!.Status);
        Assert.NotEqual("crashed-instance", row.ClaimedBy);
    }

    [Fact]
    public async Task A_duplicate_arriving_while_another_instance_calls_waits_for_that_answer_instead_of_calling()
    {
        var crew = new ScriptedCrewApi();
        await using var scope = await HarnessScope.StartAsync(database, crew);
        var command = Messages.RunCrewForUser();
        await database.ClaimAsAnotherInstanceAsync(command, "other-instance", "1 hour");

        var reachedConsumer = new ConsumeStarted(command.UserUid);
        using var observer = scope.Harness.Bus.ConnectConsumeMessageObserver(reachedConsumer);

        await scope.SendAsync(command);
        await reachedConsumer.Started.WaitAsync(TimeSpan.FromSeconds(20));
        await database.ExecuteAsync(
            """
            UPDATE crew_caller.crew_calls SET status = 'succeeded', response_json = '{"from":"other"}', finished_at = now(), duration_ms = 5
            WHERE run_id = $1 AND user_uid = $2
            """,
            command.RunId, command.UserUid);
        var received = await scope.ReceivedAsync(command);

        Assert.Equal("""{"from":"other"}""", received.ResponseJson);
        Assert.Equal(0, crew.Calls);
    }

    private sealed class ConsumeStarted(string userUid) : MassTransit.IConsumeMessageObserver<Contracts.RunCrewForUser>
    {
        private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => started.Task;

        public Task PreConsume(MassTransit.ConsumeContext<Contracts.RunCrewForUser> context)
        {
            if (context.Message.UserUid == userUid)
            {
                started.TrySetResult();
            }

            return Task.CompletedTask;
        }

        public Task PostConsume(MassTransit.ConsumeContext<Contracts.RunCrewForUser> context) => Task.CompletedTask;

        public Task ConsumeFault(MassTransit.ConsumeContext<Contracts.RunCrewForUser> context, Exception exception) => Task.CompletedTask;
    }
}
