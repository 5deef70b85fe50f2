using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.EndToEnd;

[Collection(LocalStackCollection.Name)]
public sealed class RedeliveryTests(LocalStack stack)
{
    [Fact]
    public async Task The_same_runs_messages_delivered_again_make_no_second_row_and_no_second_crew_call()
    {
        var run = await stack.CompletedRunAsync();
        var runId = run.GetProperty("id").GetGuid();
        var users = stack.Users.Take(3).ToList();
        var rowsBefore = await stack.ScalarAsync<long>("SELECT count(*) FROM crew_responses");
        var crewCallsBefore = await FakeCrewCallsAsync();
        var runCommandsAcked = await stack.QueueAckCountAsync("run-crew-for-user");
        var answersAcked = await stack.QueueAckCountAsync("crew-response-received");

        await using (var listener = await new BusListener(stack).StartAsync())
        {
            var bus = listener.Bus;
            var commands = await bus.GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUser));
            foreach (var user in users)
            {
                // As a crash or a re-sent page would deliver them: the command again, and the answer again.
                await commands.Send(new RunCrewForUser { RunId = runId, UserUid = user.Uid, Context = user.Context, Goal = user.Goal });
                await bus.Publish(new CrewResponseReceived
                {
                    RunId = runId,
                    UserUid = user.Uid,
                    RequestContext = user.Context,
                    RequestGoal = user.Goal,
                    ResponseJson = """{"Questions":[{"Question 1":"again?","Answers":["redelivered"]}]}""",
                    Attempts = 1,
                    DurationMs = 1,
                    ReceivedAt = DateTimeOffset.UtcNow,
                });
            }
        }

        // Wait until the services have consumed what we sent: the commands, our answers and the answers the
        // crew caller re-publishes from its ledger for users that already have one.
        await Eventually.HoldsAsync(async () => await stack.QueueAckCountAsync("run-crew-for-user") >= runCommandsAcked + users.Count,
            "the crew caller consumed the redelivered commands", TimeSpan.FromMinutes(2));
        await Eventually.HoldsAsync(async () => await stack.QueueAckCountAsync("crew-response-received") >= answersAcked + 2 * users.Count,
            "the response store consumed the redelivered answers", TimeSpan.FromMinutes(2));

        Assert.Equal(rowsBefore, await stack.ScalarAsync<long>("SELECT count(*) FROM crew_responses"));
        foreach (var user in users)
        {
            Assert.Equal(1L, await stack.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE run_id = $1 AND user_uid = $2", runId, user.Uid));
        }

        Assert.Equal(0L, await stack.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE response_data::text LIKE '%redelivered%'"));
        Assert.Equal(crewCallsBefore, await FakeCrewCallsAsync());
        var after = await stack.WaitForRunCompletedAsync(runId);
        Assert.Equal(stack.EligibleUsers, after.GetProperty("succeeded").GetInt32());
    }

    private static async Task<int> FakeCrewCallsAsync()
    {
        using var client = new HttpClient { BaseAddress = LocalStack.FakeCrewUrl };
        using var stats = JsonDocument.Parse(await client.GetStringAsync("/stats"));
        return stats.RootElement.GetProperty("received").GetInt32();
    }
}
