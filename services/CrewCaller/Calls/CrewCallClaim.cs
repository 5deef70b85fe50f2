using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Calls;

/// <summary>A call claimed for this consumer: with a budget, what its attempts are admitted under.</summary>
public sealed record ClaimedCall(CallSpend? Spend);

/// <summary>
/// The claim on a (run, user) in the ledger, which makes a paid call happen once however often its command arrives.
/// Ledger statements here may throw: the endpoint's platform retry runs the message again, and the claim finds its own row.
/// </summary>
public sealed partial class CrewCallClaim(
    CrewCallLedger ledger, CrewCallHandBack handBack, CrewCallDrain drain, IOptions<CrewCallerOptions> options, ILogger<CrewCallClaim> logger)
{
    /// <summary>A lease that runs out sooner than this is waited for in place; a longer one is not worth a slot.</summary>
    private static readonly TimeSpan LongestWaitInPlace = TimeSpan.FromSeconds(1);

    /// <summary>Added to an in-place wait so the lease has surely run out by the database's clock too.</summary>
    private static readonly TimeSpan LeaseSlack = TimeSpan.FromMilliseconds(50);

    private readonly CrewCallerOptions settings = options.Value;

    /// <summary>
    /// The claimed call (its first attempt counted already, and with a budget admitted) when it is ours to make; null
    /// when the command is done with: its stored answer, failure or skip announced again, or the command handed back
    /// while another claim holds the user.
    /// </summary>
    public async Task<ClaimedCall?> ClaimAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint)
    {
        var command = context.Message;
        var spend = command.Budget is { } budget
            ? new CallSpend(command.RunId, budget, await ledger.ExpectedCostAsync(endpoint.Name, endpoint.Price.CostPerCall, context.CancellationToken))
            : null;
        while (true)
        {
            switch (await ledger.TryClaimAsync(command.RunId, command.UserUid, endpoint.Name, settings.ClaimLease, command.ReplayFailed, spend, context.CancellationToken))
            {
                case ClaimResult.Claimed:
                    return new ClaimedCall(spend);

                case ClaimResult.AlreadySucceeded done:
                    // Covers a crash between recording the answer and publishing it; the ResponseStore stores once per (run, user).
                    LogAlreadyAnswered(logger, command.RunId, command.UserUid);
                    await context.Publish(CrewCallOutcome.Answer(command, done.ResponseJson, done.Attempts, done.DurationMs, done.FinishedAt, done.Cost));
                    return null;

                case ClaimResult.AlreadyFailed failed:
                    // Covers a crash between recording the failure and publishing it; only an operator's replay calls again.
                    LogAlreadyFailed(logger, command.RunId, command.UserUid, failed.Reason);
                    await context.Publish(CrewCallOutcome.Failure(command, failed.Reason, failed.StatusCode, failed.Attempts, failed.FinishedAt, failed.Cost));
                    return null;

                case ClaimResult.Skipped skipped:
                    // The first time, and again whenever the command comes back: a lost copy of the event heals itself.
                    LogSkipped(logger, command.RunId, command.UserUid, skipped.Reason);
                    await context.Publish(new CrewCallSkipped
                    {
                        RunId = command.RunId, UserUid = command.UserUid, Reason = skipped.Reason, SkippedAt = skipped.SkippedAt,
                        ScheduleId = command.ScheduleId, Endpoint = endpoint.Name,
                    });
                    return null;

                case ClaimResult.HeldElsewhere held:
                    // The holder may be dead: its lease then runs out and this command must take over, not be dropped.
                    // Until then the command waits in the queue, not in a concurrency slot other users need.
                    LogHeldElsewhere(logger, command.RunId, command.UserUid, held.ClaimableAt);
                    if (held.Remaining > LongestWaitInPlace || !await drain.WaitUnlessStoppingAsync(held.Remaining + LeaseSlack, context.CancellationToken))
                    {
                        await handBack.HandBackAsync(context, pause: held.Remaining > LongestWaitInPlace);
                        return null;
                    }

                    break;
            }
        }
    }

    /// <summary>For the steps after the claim: a ledger statement found the row taken over by another instance.</summary>
    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the claim on user {UserUid} in run {RunId} (another instance took over); leaving it to that instance")]
    internal static partial void LogClaimLost(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} already has a crew answer; re-publishing it instead of calling again")]
    private static partial void LogAlreadyAnswered(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Information, Message = "The crew call for user {UserUid} in run {RunId} failed for good ({Reason}); re-publishing the failure instead of calling again")]
    private static partial void LogAlreadyFailed(ILogger logger, Guid runId, string userUid, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is not called ({Reason}); announcing the skip")]
    private static partial void LogSkipped(ILogger logger, Guid runId, string userUid, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another claim, claimable at {ClaimableAt} unless renewed")]
    private static partial void LogHeldElsewhere(ILogger logger, Guid runId, string userUid, DateTimeOffset claimableAt);
}
