using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Calls;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Calls the crew API for one user of one run, at most once per (run, user) however often the command arrives, in
/// steps: a concurrency slot of the command's endpoint, the claim in the ledger (<see cref="CrewCallClaim"/>), the
/// attempts (<see cref="CrewCallAttempts"/>), then recording and announcing the outcome (<see cref="CrewCallOutcome"/>).
/// A command that cannot be worked on now goes back to its queue (<see cref="CrewCallHandBack"/>).
/// </summary>
public sealed partial class RunCrewForUserConsumer(
    CrewEndpoints endpoints,
    ActiveClaims activeClaims,
    CrewCallDrain drain,
    CrewCallClaim claim,
    CrewCallAttempts attempts,
    CrewCallOutcome outcome,
    CrewCallHandBack handBack,
    CrewCallerMetrics metrics,
    ILogger<RunCrewForUserConsumer> logger) : IConsumer<RunCrewForUser>
{
    public async Task Consume(ConsumeContext<RunCrewForUser> context)
    {
        var command = context.Message;
        using var activity = CrewTracing.CrewCaller.StartRunActivity("crew call", command.RunId, command.UserUid);
        activity?.SetTag("crew.endpoint", command.Endpoint);

        // The endpoint's high and normal queues share its concurrency; a high-priority user gets the next free slot.
        // A user still waiting for one when a stop begins goes back to the queue at once, like one between attempts.
        var endpoint = endpoints.For(command.Endpoint);
        using var slot = await drain.UnlessStoppingAsync(token => endpoint.Gate.EnterAsync(CrewPriority.IsHigh(command.Priority), token), context.CancellationToken);
        if (slot is null)
        {
            await handBack.HandBackAsync(context, pause: false);
            return;
        }

        // The ledger cannot tell two consumers of this process apart (both are claimed_by us), the registry can.
        if (!activeClaims.TryRegister(command.RunId, command.UserUid))
        {
            LogHeldInThisProcess(logger, command.RunId, command.UserUid);
            await handBack.HandBackAsync(context, pause: true);
            return;
        }

        try
        {
            if (!await claim.ClaimAsync(context))
            {
                return;
            }

            using var inFlight = metrics.CallInFlight();
            if (await attempts.MakeAsync(context, endpoint) is { } end)
            {
                // Recording and announcing need no crew API capacity: the next user's call starts while this one is written down.
                slot.Dispose();
                await outcome.RecordAndAnnounceAsync(context, end);
            }
        }
        finally
        {
            activeClaims.Unregister(command.RunId, command.UserUid);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another consumer of this instance")]
    private static partial void LogHeldInThisProcess(ILogger logger, Guid runId, string userUid);
}
