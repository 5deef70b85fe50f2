using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Calls;

/// <summary>
/// Sends a command back to the end of its queue and lets this delivery complete, freeing its slot: when it cannot be
/// worked on now (a stop begins, another claim holds it, the circuit stayed open too long). The copy is confirmed by
/// the broker before the original is acknowledged, so the command cannot be lost in between.
/// </summary>
public sealed partial class CrewCallHandBack(CrewCallLedger ledger, CrewCallDrain drain, ILogger<CrewCallHandBack> logger)
{
    /// <summary>How many times a command was handed back to the queue, for whoever reads it in the RabbitMQ UI.</summary>
    public const string HandBacksHeader = "CrewCaller-HandBacks";

    /// <summary>Before a held command goes back to the queue: when the queue holds nothing else, it would come straight back.</summary>
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    /// <summary>A command not claimed by us (yet): the claim stays whoever's it is.</summary>
    public async Task HandBackAsync(ConsumeContext<RunCrewForUser> context, bool pause)
    {
        if (pause)
        {
            await drain.WaitUnlessStoppingAsync(Pause, context.CancellationToken);
        }

        var handBacks = context.Headers.Get(HandBacksHeader, default(int?)) ?? 0;
        var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
        await queue.Send(context.Message, send => send.Headers.Set(HandBacksHeader, handBacks + 1), context.CancellationToken);
        LogHandedBack(logger, context.Message.RunId, context.Message.UserUid, handBacks + 1);
    }

    /// <summary>
    /// A command whose claim is ours, cut short by a stop or the drain's end, or waiting too long at an open circuit: the
    /// claim is given up too, so the next instance (or this one restarted) takes over at once instead of waiting out our lease.
    /// </summary>
    /// <param name="attemptNotMade">The ledger counted an attempt that never reached the crew API: it is given back (and its reservation, with a budget).</param>
    public async Task HandBackClaimedAsync(ConsumeContext<RunCrewForUser> context, bool attemptNotMade, CallSpend? spend)
    {
        await HandBackAsync(context, pause: false);
        var command = context.Message;
        try
        {
            await ledger.ReleaseAsync(command.RunId, command.UserUid, attemptNotMade, spend, CancellationToken.None);
        }
        catch (Exception ex) when (PlatformRetry.IsInfrastructureFault(ex))
        {
            // Not worth holding a stop for: without the heartbeat the lease runs out on its own.
            LogReleaseFailed(logger, ex, command.RunId, command.UserUid);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Handed the command for user {UserUid} in run {RunId} back to the queue (hand-back {HandBacks})")]
    private static partial void LogHandedBack(ILogger logger, Guid runId, string userUid, int handBacks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the claim on user {UserUid} in run {RunId}; it lapses with its lease")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, Guid runId, string userUid);
}
