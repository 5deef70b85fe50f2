using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>The service on the real RabbitMQ (this fixture's own virtual host), not the in-memory harness.</summary>
public sealed class RabbitMqRedeliveryTests(RabbitMqRedeliveryTests.App app) : IClassFixture<RabbitMqRedeliveryTests.App>
{
    public sealed class App : ResponseStoreApp
    {
        protected override bool UseTestHarness => false;
    }

    [Fact]
    public async Task The_same_answer_published_twice_over_rabbitmq_makes_exactly_one_row_and_every_announcement_names_it()
    {
        var user = $"user-{Guid.NewGuid():N}";
        await app.AddUsersAsync([(user, "context", "goal")]);
        var bus = app.Factory.Services.GetRequiredService<IBus>();

        // Listens like the scheduler does: a queue of its own bound to the CrewResponseStored exchange.
        await using var listener = await new BusListener(app).Record<CrewResponseStored>("response-store-tests-stored").StartAsync();
        var announcements = () => listener.Received<CrewResponseStored>();

        var received = new CrewResponseReceived
        {
            RunId = Guid.NewGuid(),
            UserUid = user,
            RequestContext = "context",
            RequestGoal = "goal",
            ResponseJson = """{"Questions":[]}""",
            Attempts = 1,
            DurationMs = 20_000,
            ReceivedAt = DateTimeOffset.UtcNow,
        };

        await bus.Publish(received);
        await Eventually.HoldsAsync(() => announcements().Count > 0, "the first delivery is announced");

        // The redelivery comes in a later batch: it must find the row, not write another, and announce it again.
        await bus.Publish(received);
        await Eventually.HoldsAsync(() => announcements().Count >= 2, "the second delivery is announced");

        var id = await app.ScalarAsync<int>("SELECT id FROM crew_responses WHERE run_id = $1 AND user_uid = $2", received.RunId, user);
        Assert.Equal(1, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
        Assert.All(announcements(), a => Assert.Equal((received.RunId, user, id), (a.RunId, a.UserUid, a.ResponseId)));
        var queues = await app.QueueNamesAsync();
        Assert.Contains("crew-response-received", queues);
        Assert.DoesNotContain("crew-response-received_error", queues);
    }
}
