using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Calls;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Calls the crew API for one user of one run, at most once per (run, user) however often the command arrives, in
/// steps: a concurrency slot of the command's endpoint, a start of the endpoint's shared pace (<see cref="CrewPace"/>),
/// the claim in the ledger, admitted by the run's budget (<see cref="CrewCallClaim"/>), the attempts
/// (<see cref="CrewCallAttempts"/>), then recording and announcing the outcome (<see cref="CrewCallOutcome"/>).
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
    CrewPace pace,
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
        using var slot = await PacedSlotAsync(context, endpoint);
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
            if (await claim.ClaimAsync(context, endpoint) is not { } claimed)
            {
                return;
            }

            using var inFlight = metrics.CallInFlight();
            if (await attempts.MakeAsync(context, endpoint, claimed.Spend) is { } end)
            {
                // Recording and announcing need no crew API capacity: the next user's call starts while this one is written down.
                slot.Dispose();
                await outcome.RecordAndAnnounceAsync(context, endpoint, end, claimed.Spend);
            }
        }
        finally
        {
            activeClaims.Unregister(command.RunId, command.UserUid);
        }
    }

    /// <summary>
    /// A concurrency slot while the endpoint's pace lets the call start now (the start is taken); null when a stop began.
    /// A slot is held only while the start is allowed: otherwise it goes to the next user, and this one waits as the
    /// pace says (asking again after at most <see cref="CrewPace.LongestWait"/>).
    /// </summary>
    private async Task<PriorityGate.Slot?> PacedSlotAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint)
    {
        while (await drain.UnlessStoppingAsync(token => endpoint.Gate.EnterAsync(CrewPriority.IsHigh(context.Message.Priority), token), context.CancellationToken) is { } slot)
        {
            TimeSpan wait;
            try
            {
                wait = await pace.TryStartAsync(endpoint, context.CancellationToken, context.Message);
            }
            catch
            {
                slot.Dispose();
                throw;
            }

            if (wait <= TimeSpan.Zero)
            {
                return slot;
            }

            slot.Dispose();
            if (!await drain.WaitUnlessStoppingAsync(CrewPace.Capped(wait), context.CancellationToken))
            {
                break;
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another consumer of this instance")]
    private static partial void LogHeldInThisProcess(ILogger logger, Guid runId, string userUid);
}
