using CrewPlatform.Contracts;
using CrewPlatform.ResponseStore.Consumers;
using CrewPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>The batch consumer's logic on MassTransit's in-memory harness, writing to a real PostgreSQL database.</summary>
public sealed class CrewResponseReceivedConsumerTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>, IAsyncLifetime
{
    /// <summary>What the harness holds already: its own Select waits for the bus to go quiet before it ends.</summary>
    private static readonly CancellationToken SoFar = new(canceled: true);

    private HarnessHost host = null!;
    private ITestHarness harness = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(_ => NpgsqlDataSource.Create(db.PostgresConnectionString));

        // Inactivity longer than the batch's 20 ms time limit, so a partial batch is not mistaken for inactivity.
        host = await HarnessHost.StartAsync(
            services, x => x.AddResponseStoreConsumers(), timeout: TimeSpan.FromSeconds(60), inactivityTimeout: TimeSpan.FromSeconds(3));
        harness = host.Harness;
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task A_received_answer_is_stored_and_announced_with_the_new_row_id()
    {
        var user = await db.AddNewUserAsync();
        var received = Received(user, """{"Questions":[{"Question 1":"Why?","Answers":["Because"]}]}""");

        await harness.Bus.Publish(received);

        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == user));
        var stored = host.PublishedSoFar<CrewResponseStored>().Single(m => m.UserUid == user);
        Assert.Equal(received.RunId, stored.RunId);
        Assert.Equal(
            stored.ResponseId,
            await db.ScalarAsync<int>("SELECT id FROM crew_responses WHERE run_id = $1 AND user_uid = $2", received.RunId, user));
        Assert.Equal(
            "ctx|goal|Because",
            await db.ScalarAsync<string>(
                "SELECT request_context || '|' || request_goal || '|' || (response_data #>> '{Questions,0,Answers,0}') FROM crew_responses WHERE id = $1",
                stored.ResponseId));
        Assert.True(await db.ScalarAsync<bool>("SELECT abs(extract(epoch FROM (now() AT TIME ZONE 'utc') - created_at)) < 300 FROM crew_responses WHERE id = $1", stored.ResponseId));
    }

    [Fact]
    public async Task An_answer_s_cost_is_stored_and_announced_with_its_duration_and_an_unpriced_answer_s_is_null()
    {
        var priced = await db.AddNewUserAsync();
        var unpriced = await db.AddNewUserAsync();
        var runId = Guid.NewGuid();

        await harness.Bus.PublishBatch([
            Received(priced, """{"answer":"paid"}""", runId) with { Cost = 0.0125m, DurationMs = 1234 },
            Received(unpriced, """{"answer":"free"}""", runId),
        ]);

        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == priced));
        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == unpriced));
        var stored = host.PublishedSoFar<CrewResponseStored>().Single(m => m.UserUid == priced);
        Assert.Equal(0.0125m, stored.Cost);
        Assert.Equal(1234, stored.DurationMs);
        Assert.Null(host.PublishedSoFar<CrewResponseStored>().Single(m => m.UserUid == unpriced).Cost);
        Assert.Equal(0.0125m, await db.ScalarAsync<decimal>("SELECT cost FROM crew_responses WHERE user_uid = $1", priced));
        Assert.True(await db.ScalarAsync<bool>("SELECT cost IS NULL FROM crew_responses WHERE user_uid = $1", unpriced));
    }

    [Fact]
    public async Task A_paid_answer_that_cannot_be_stored_is_reported_as_failed_with_its_cost()
    {
        var deleted = $"gone-{Guid.NewGuid():N}";

        await harness.Bus.Publish(Received(deleted, """{"ok":true}""") with { Cost = 0.5m });

        Assert.True(await harness.Published.Any<CrewCallFailed>(x => x.Context.Message.UserUid == deleted));
        Assert.Equal(0.5m, host.PublishedSoFar<CrewCallFailed>().Single(m => m.UserUid == deleted).Cost);
    }

    [Fact]
    public async Task A_redelivered_answer_makes_no_second_row_and_is_announced_again_with_the_same_id()
    {
        var user = await db.AddNewUserAsync();
        var received = Received(user, """{"answer":1}""");

        await harness.Bus.Publish(received);
        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == user));

        // As after a crash between the insert and the publish: the scheduler must still hear about it.
        await harness.Bus.Publish(received with { ResponseJson = """{"answer":2}""" });
        await Eventually.HoldsAsync(
            () => host.PublishedSoFar<CrewResponseStored>().Count(m => m.UserUid == user) == 2,
            "the redelivery is announced too");

        var ids = host.PublishedSoFar<CrewResponseStored>().Where(m => m.UserUid == user).Select(m => m.ResponseId).Distinct().ToList();
        Assert.Single(ids);
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
        Assert.Equal(1, await db.ScalarAsync<int>("SELECT (response_data->>'answer')::int FROM crew_responses WHERE user_uid = $1", user));
    }

    [Fact]
    public async Task The_same_answer_twice_in_one_batch_makes_one_row_and_one_announcement()
    {
        var user = await db.AddNewUserAsync();
        var received = Received(user, """{"answer":"once"}""");

        await harness.Bus.PublishBatch([received, received]);

        var consumer = harness.GetConsumerHarness<CrewResponseReceivedConsumer>();
        Assert.True(await consumer.Consumed.Any<Batch<CrewResponseReceived>>(x => x.Context.Message.Any(m => m.Message.UserUid == user)));
        var batch = consumer.Consumed.Select<Batch<CrewResponseReceived>>(x => x.Context.Message.Any(m => m.Message.UserUid == user), SoFar).Single().Context.Message;
        Assert.Equal(2, batch.Length);
        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == user));
        Assert.Single(host.PublishedSoFar<CrewResponseStored>(), m => m.UserUid == user);
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
    }

    [Fact]
    public async Task An_answer_for_a_user_deleted_mid_run_is_reported_as_failed_and_the_rest_of_the_batch_is_stored()
    {
        var present = await db.AddNewUserAsync();
        var deleted = $"gone-{Guid.NewGuid():N}";
        var runId = Guid.NewGuid();

        await harness.Bus.PublishBatch([
            Received(present, """{"ok":true}""", runId),
            Received(deleted, """{"ok":true}""", runId) with { Attempts = 3 },
        ]);

        Assert.True(await harness.Published.Any<CrewCallFailed>(x => x.Context.Message.UserUid == deleted));
        var failed = host.PublishedSoFar<CrewCallFailed>().Single(m => m.UserUid == deleted);
        Assert.Equal(runId, failed.RunId);
        Assert.Equal("user no longer exists", failed.Reason);
        Assert.Equal(3, failed.Attempts);
        Assert.Null(failed.StatusCode);

        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == present));
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE run_id = $1", runId));
        Assert.Empty(host.PublishedSoFar<Fault<CrewResponseReceived>>());
    }

    [Fact]
    public async Task An_answer_jsonb_cannot_hold_is_reported_as_failed_without_losing_the_good_answers_of_its_batch()
    {
        var good = await db.AddNewUserAsync();
        var nul = await db.AddNewUserAsync();
        var scalar = await db.AddNewUserAsync();
        var broken = await db.AddNewUserAsync();
        var runId = Guid.NewGuid();

        await harness.Bus.PublishBatch([
            Received(good, """{"fine":"yes"}""", runId),
            Received(nul, """{"text":"a\u0000b"}""", runId),
            Received(scalar, "42", runId),
            Received(broken, "{not json", runId),
        ]);

        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == good));
        foreach (var user in new[] { nul, scalar, broken })
        {
            Assert.True(await harness.Published.Any<CrewCallFailed>(x => x.Context.Message.UserUid == user), $"{user} reported as failed");
        }

        Assert.Equal(
            "crew answer is not a JSON object or array",
            host.PublishedSoFar<CrewCallFailed>().Single(m => m.UserUid == scalar).Reason);
        Assert.Equal(
            "crew answer is not valid JSON",
            host.PublishedSoFar<CrewCallFailed>().Single(m => m.UserUid == broken).Reason);
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE run_id = $1", runId));
    }

    [Fact]
    public async Task Context_and_goal_with_characters_postgresql_text_refuses_are_cleaned_instead_of_failing()
    {
        var user = await db.AddNewUserAsync();
        var received = Received(user, """{"a":1}""") with { RequestContext = "before\0after", RequestGoal = "lone \ud800 surrogate" };

        await harness.Bus.Publish(received);

        Assert.True(await harness.Published.Any<CrewResponseStored>(x => x.Context.Message.UserUid == user));
        Assert.Equal("beforeafter", await db.ScalarAsync<string>("SELECT request_context FROM crew_responses WHERE user_uid = $1", user));
        Assert.Equal("lone \uFFFD surrogate", await db.ScalarAsync<string>("SELECT request_goal FROM crew_responses WHERE user_uid = $1", user));
    }

    [Fact]
    public async Task Answers_are_counted_by_result_stored_already_stored_and_user_missing()
    {
        using var metrics = new MetricRecorder(host.Services);
        var user = await db.AddNewUserAsync();
        var received = Received(user, """{"answer":"counted"}""");

        await harness.Bus.Publish(received);
        await Eventually.HoldsAsync(() => metrics.Sum("response_store_answers") == 1, "the first delivery is counted");

        // Apart from the first, or the batch would fold the two deliveries into one.
        await harness.Bus.Publish(received);
        await harness.Bus.Publish(Received($"missing-{Guid.NewGuid():N}", """{"answer":"nobody"}"""));

        await Eventually.HoldsAsync(
            () => metrics.Sum("response_store_answers") == 3,
            "the three answers are counted");
        Assert.Equal(1, metrics.Sum("response_store_answers", ("result", "stored")));
        Assert.Equal(1, metrics.Sum("response_store_answers", ("result", "already_stored")));
        Assert.Equal(1, metrics.Sum("response_store_answers", ("result", "user_missing")));
    }


    private static CrewResponseReceived Received(string userUid, string json, Guid? runId = null) => new()
    {
        RunId = runId ?? Guid.NewGuid(),
        UserUid = userUid,
        RequestContext = "ctx",
        RequestGoal = "goal",
        ResponseJson = json,
        Attempts = 1,
        DurationMs = 20_000,
        ReceivedAt = DateTimeOffset.UtcNow,
    };
}
