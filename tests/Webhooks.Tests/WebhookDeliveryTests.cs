using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>Events published on the real broker reach a real receiver, signed, once per webhook-id, through failures and restarts.</summary>
public sealed class WebhookDeliveryTests : IAsyncLifetime
{
    private readonly WebhooksService service = new();
    private WebhookReceiver receiver = null!;

    public async Task InitializeAsync()
    {
        await service.InitializeAsync();
        receiver = await WebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await receiver.DisposeAsync();
        await service.DisposeAsync();
    }

    private static CrewRunCompleted Completed(Guid runId) => new()
    {
        RunId = runId, Dispatched = 3, Succeeded = 2, Failed = 1, Skipped = 0, CompletedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task A_completed_run_is_delivered_signed_once_even_when_the_event_is_redelivered()
    {
        await service.SubscribeAsync(receiver, "run.completed");
        var completed = Completed(Guid.NewGuid());

        await service.Bus.Publish(completed);
        await service.Bus.Publish(completed);

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the receiver processed the run's webhook");
        var webhook = Assert.Single(receiver.Received);
        Assert.True(webhook.SignatureValid);
        using var body = JsonDocument.Parse(webhook.Body);
        Assert.Equal("run.completed", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(completed.RunId, body.RootElement.GetProperty("data").GetProperty("runId").GetGuid());
        Assert.Equal("completed", body.RootElement.GetProperty("data").GetProperty("status").GetString()); // an older message's: none
        Assert.Equal(1, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
    }

    [Fact]
    public async Task A_cancelled_run_sends_run_cancelled_instead_of_its_completion_and_an_exhausted_budget_adds_run_budget_exhausted()
    {
        await service.SubscribeAsync(receiver, "run.completed", "run.failed", "run.cancelled", "run.budget-exhausted");
        // Every dispatched user failed, yet cancelled wins over run.failed.
        var cancelled = Completed(Guid.NewGuid()) with { Succeeded = 0, Failed = 1, Status = "cancelled", Cancelled = 5, Spent = 0.25m };
        var exhausted = Completed(Guid.NewGuid()) with { Status = "completed", Skipped = 4, BudgetExhausted = true, Spent = 12.5m };

        await service.Bus.Publish(cancelled);
        await service.Bus.Publish(exhausted);
        await service.Bus.Publish(exhausted); // a redelivery adds nothing

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 3, "the three webhooks were processed");
        var bodies = receiver.Received.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.Equal(
            [(cancelled.RunId, "run.cancelled"), (exhausted.RunId, "run.budget-exhausted"), (exhausted.RunId, "run.completed")],
            bodies.Select(b => (b.GetProperty("data").GetProperty("runId").GetGuid(), b.GetProperty("type").GetString()!))
                .OrderBy(e => e.Item1 == cancelled.RunId ? 0 : 1).ThenBy(e => e.Item2, StringComparer.Ordinal));
        var cancelledData = bodies.Single(b => b.GetProperty("type").GetString() == "run.cancelled").GetProperty("data");
        Assert.Equal("cancelled", cancelledData.GetProperty("status").GetString());
        Assert.Equal(5, cancelledData.GetProperty("cancelled").GetInt32());
        Assert.False(cancelledData.GetProperty("budgetExhausted").GetBoolean());
        Assert.Equal(0.25m, cancelledData.GetProperty("spent").GetDecimal());
        Assert.All(bodies.Where(b => b.GetProperty("data").GetProperty("runId").GetGuid() == exhausted.RunId), b =>
        {
            var data = b.GetProperty("data");
            Assert.Equal("completed", data.GetProperty("status").GetString());
            Assert.True(data.GetProperty("budgetExhausted").GetBoolean());
            Assert.Equal(12.5m, data.GetProperty("spent").GetDecimal());
            Assert.Equal(4, data.GetProperty("skipped").GetInt32());
        });
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid));
        Assert.Equal(3, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
    }

    [Fact]
    public async Task A_stored_answer_a_run_where_all_failed_and_a_skipped_due_time_are_delivered_as_their_event_types()
    {
        await service.SubscribeAsync(receiver, "crew-response.stored", "run.failed", "run.skipped");

        await service.Bus.Publish(new CrewResponseStored { RunId = Guid.NewGuid(), UserUid = "u-1", ResponseId = 42, StoredAt = DateTimeOffset.UtcNow });
        await service.Bus.Publish(Completed(Guid.NewGuid()) with { Succeeded = 0, Failed = 3 });
        await service.Bus.Publish(new CrewRunSkipped { RunId = Guid.NewGuid(), ScheduleId = 1, Segment = "all", DueAt = DateTimeOffset.UtcNow });
        await service.Bus.Publish(Completed(Guid.NewGuid())); // run.completed: not subscribed

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 3, "the three webhooks were processed");
        var types = receiver.Received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString()).Order().ToList();
        Assert.Equal(["crew-response.stored", "run.failed", "run.skipped"], types);
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid));
        var stored = receiver.Received.Single(r => r.Body.Contains("crew-response.stored", StringComparison.Ordinal));
        Assert.Equal(42, JsonDocument.Parse(stored.Body).RootElement.GetProperty("data").GetProperty("responseId").GetInt32());
    }

    [Fact]
    public async Task A_burst_of_stored_answers_with_redeliveries_is_one_delivery_per_answer()
    {
        await service.SubscribeAsync(receiver, "crew-response.stored");
        var runId = Guid.NewGuid();
        var answers = Enumerable.Range(1, 250)
            .Select(i => new CrewResponseStored { RunId = runId, UserUid = $"u-{i}", ResponseId = i, StoredAt = DateTimeOffset.UtcNow })
            .ToList();

        // Taken in batches; every 10th answer announced twice (a redelivery), some within one batch, some across.
        await service.Bus.PublishBatch(answers.Concat(answers.Where(a => a.ResponseId % 10 == 0)));

        await Eventually.HoldsAsync(() => receiver.Processed.Count == answers.Count, "every stored answer's webhook was processed", TimeSpan.FromSeconds(60));
        Assert.Equal(answers.Count, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
        Assert.Equal(answers.Count, await service.ScalarAsync<long>("SELECT count(DISTINCT event_id) FROM webhooks.deliveries"));
        var responseIds = receiver.Received
            .Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("responseId").GetInt32())
            .Order();
        Assert.Equal(Enumerable.Range(1, 250), responseIds);
    }

    [Fact]
    public async Task A_subscription_of_a_segment_gets_that_segments_runs_only()
    {
        await service.SubscribeAsync(receiver, "vip", ["run.completed"]);
        var vipRun = Completed(Guid.NewGuid()) with { Segment = "vip" };

        await service.Bus.Publish(Completed(Guid.NewGuid()) with { Segment = "all" });
        await service.Bus.Publish(vipRun);

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the vip run's webhook was processed");
        Assert.Equal(vipRun.RunId, JsonDocument.Parse(Assert.Single(receiver.Received).Body).RootElement.GetProperty("data").GetProperty("runId").GetGuid());
        Assert.Equal(1, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
    }

    [Fact]
    public async Task A_crew_endpoint_going_down_and_coming_back_is_delivered_as_unavailable_then_recovered()
    {
        await service.SubscribeAsync(receiver, "crew-api.unavailable", "crew-api.recovered");
        var downAt = DateTimeOffset.UtcNow;

        await service.Bus.Publish(new CrewApiAvailabilityChanged { Endpoint = "default", Available = false, ChangedAt = downAt });
        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the unavailable webhook was processed");
        await service.Bus.Publish(new CrewApiAvailabilityChanged { Endpoint = "default", Available = true, ChangedAt = downAt.AddSeconds(30) });
        await Eventually.HoldsAsync(() => receiver.Processed.Count == 2, "the recovered webhook was processed");

        var bodies = receiver.Received.Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.Equal(["crew-api.unavailable", "crew-api.recovered"], bodies.Select(b => b.GetProperty("type").GetString()));
        Assert.All(bodies, b => Assert.Equal("default", b.GetProperty("data").GetProperty("endpoint").GetString()));
    }

    [Fact]
    public async Task A_failing_receiver_is_retried_with_growing_delays_and_every_attempt_is_logged()
    {
        receiver.Answer = n => n <= 3 ? 500 : 200;
        var subscription = await service.SubscribeAsync(receiver, "run.completed");

        await service.Bus.Publish(Completed(Guid.NewGuid()));

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the fourth attempt got through", TimeSpan.FromSeconds(90));
        var attempts = receiver.Received;
        Assert.Equal([500, 500, 500, 200], attempts.Select(a => a.AnsweredWith));
        Assert.Single(attempts.Select(a => a.WebhookId).Distinct());

        // 0.2 s, 1.2 s, 4.8 s: each wait longer than the one before.
        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.True(gaps[0] >= TimeSpan.FromSeconds(0.15), $"first retry after {gaps[0]}");
        Assert.True(gaps[1] > gaps[0] && gaps[2] > gaps[1], $"gaps {string.Join(", ", gaps)}");

        IReadOnlyList<JsonElement> logged = [];
        await Eventually.HoldsAsync(async () => (logged = await service.AttemptsAsync(subscription)).Count == 4, "four attempts are logged");
        Assert.Equal([1, 2, 3, 4], logged.Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Equal([500, 500, 500, 200], logged.Select(a => a.GetProperty("statusCode").GetInt32()));
        Assert.Equal("HTTP 500", logged[0].GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, logged[3].GetProperty("nextAttemptAt").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, logged[3].GetProperty("deliveredAt").ValueKind);
    }

    [Fact]
    public async Task A_subscription_failing_for_longer_than_the_disable_time_is_disabled_and_says_why()
    {
        await service.StopAsync();
        await service.StartAsync(new Dictionary<string, string?>(WebhooksService.TestSettings) { ["WEBHOOKS_DISABLE_AFTER_HOURS"] = "0.0005" }); // 1.8 s
        receiver.Answer = _ => 503;
        var subscription = await service.SubscribeAsync(receiver, "run.completed");

        await service.Bus.Publish(Completed(Guid.NewGuid()));

        JsonElement webhook = default;
        await Eventually.HoldsAsync(
            async () => !(webhook = await service.WebhookAsync(subscription)).GetProperty("enabled").GetBoolean(),
            "the subscription was disabled");
        Assert.Contains("last error: HTTP 503", webhook.GetProperty("disabledReason").GetString(), StringComparison.Ordinal);
        var attemptsWhenDisabled = receiver.Received.Count;
        Assert.True(attemptsWhenDisabled >= 2, $"{attemptsWhenDisabled} attempts");

        // Disabled means no more attempts, and new events add no deliveries.
        await service.Bus.Publish(Completed(Guid.NewGuid()));
        await service.Bus.Publish(Completed(Guid.NewGuid()));
        await Eventually.HoldsAsync(
            async () => await service.QueueAckCountAsync("webhooks-crew-run-completed") >= 3, "the later events were consumed", TimeSpan.FromSeconds(30));
        Assert.Equal(1, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
        Assert.Equal(attemptsWhenDisabled, receiver.Received.Count);
    }

    [Fact]
    public async Task A_delivery_cut_off_by_a_restart_is_sent_again_under_the_same_webhook_id()
    {
        await service.SubscribeAsync(receiver, "run.completed");
        receiver.HoldNextRequest();

        await service.Bus.Publish(Completed(Guid.NewGuid()));
        await receiver.HeldRequestArrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await service.StopAsync();
        await service.StartAsync();

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the restarted service delivered the webhook");
        var requests = receiver.Received;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].WebhookId, requests[1].WebhookId);
        Assert.All(requests, r => Assert.True(r.SignatureValid));
    }
}
