using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Calls the crew API for one user of one run, at most once per (run, user) however often the command arrives:
/// claims the ledger row, retries transient failures in-process, records the outcome, then publishes
/// <see cref="CrewResponseReceived"/> or <see cref="CrewCallFailed"/>. Giving up is a recorded outcome, not a fault:
/// the command is acknowledged, and an operator's retry-failed replays it.
/// </summary>
/// <remarks>
/// Ledger statements before the call may throw: the endpoint's platform retry runs the message again, and the claim
/// finds its own row. Everything after the crew answered is retried in place until the infrastructure answers, because
/// losing a paid answer would mean buying it again.
/// </remarks>
public sealed partial class RunCrewForUserConsumer(
    CrewCallLedger ledger,
    ActiveClaims activeClaims,
    CrewEndpoints endpoints,
    CrewApiInvoker crewApi,
    CrewCallDrain drain,
    IHostApplicationLifetime lifetime,
    IOptions<CrewCallerOptions> options,
    TimeProvider timeProvider,
    CrewCallerMetrics metrics,
    ILogger<RunCrewForUserConsumer> logger) : IConsumer<RunCrewForUser>
{
    /// <summary>How many times a command was handed back to the queue, for whoever reads it in the RabbitMQ UI.</summary>
    public const string HandBacksHeader = "CrewCaller-HandBacks";

    /// <summary>A lease that runs out sooner than this is waited for in place; a longer one is not worth a slot.</summary>
    private static readonly TimeSpan LongestWaitInPlace = TimeSpan.FromSeconds(1);

    /// <summary>Before a held command goes back to the queue: when the queue holds nothing else, it would come straight back.</summary>
    private static readonly TimeSpan HandBackPause = TimeSpan.FromSeconds(1);

    /// <summary>How long a claimed command may wait at an open circuit before it goes back to the queue.</summary>
    private static readonly TimeSpan LongestCircuitWait = TimeSpan.FromMinutes(15);

    /// <summary>Added to an in-place wait so the lease has surely run out by the database's clock too.</summary>
    private static readonly TimeSpan LeaseSlack = TimeSpan.FromMilliseconds(50);

    private readonly CrewCallerOptions settings = options.Value;

    public async Task Consume(ConsumeContext<RunCrewForUser> context)
    {
        var command = context.Message;
        using var activity = CrewTracing.CrewCaller.StartRunActivity("crew call", command.RunId, command.UserUid);
        activity?.SetTag("crew.endpoint", command.Endpoint);

        // The endpoint's high and normal queues share its concurrency; a high-priority user gets the next free slot.
        // A user still waiting for one when a stop begins goes back to the queue at once, like one between attempts.
        var endpoint = endpoints.For(command.Endpoint);
        using var slot = await UnlessStoppingAsync(token => endpoint.Gate.EnterAsync(CrewPriority.IsHigh(command.Priority), token), context.CancellationToken);
        if (slot is null)
        {
            await HandBackAsync(context, pause: false);
            return;
        }

        // The ledger cannot tell two consumers of this process apart (both are claimed_by us), the registry can.
        if (!activeClaims.TryRegister(command.RunId, command.UserUid))
        {
            LogHeldInThisProcess(logger, command.RunId, command.UserUid);
            await HandBackAsync(context, pause: true);
            return;
        }

        try
        {
            await ClaimAndCallAsync(context, endpoint, slot);
        }
        finally
        {
            activeClaims.Unregister(command.RunId, command.UserUid);
        }
    }

    private async Task ClaimAndCallAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint, PriorityGate.Slot slot)
    {
        var command = context.Message;
        while (true)
        {
            switch (await ledger.TryClaimAsync(command.RunId, command.UserUid, settings.ClaimLease, command.ReplayFailed, context.CancellationToken))
            {
                case ClaimResult.Claimed:
                    await CallAsync(context, endpoint, slot);
                    return;

                case ClaimResult.AlreadySucceeded done:
                    // Covers a crash between recording the answer and publishing it; the ResponseStore stores once per (run, user).
                    LogAlreadyAnswered(logger, command.RunId, command.UserUid);
                    await context.Publish(Answer(command, done.ResponseJson, done.Attempts, done.DurationMs, done.FinishedAt));
                    return;

                case ClaimResult.AlreadyFailed failed:
                    // Covers a crash between recording the failure and publishing it; only an operator's replay calls again.
                    LogAlreadyFailed(logger, command.RunId, command.UserUid, failed.Reason);
                    await context.Publish(Failure(command, failed.Reason, failed.StatusCode, failed.Attempts, failed.FinishedAt));
                    return;

                case ClaimResult.HeldElsewhere held:
                    // The holder may be dead: its lease then runs out and this command must take over, not be dropped.
                    // Until then the command waits in the queue, not in a concurrency slot other users need.
                    LogHeldElsewhere(logger, command.RunId, command.UserUid, held.ClaimableAt);
                    if (held.Remaining > LongestWaitInPlace || !await WaitUnlessStoppingAsync(held.Remaining + LeaseSlack, context.CancellationToken))
                    {
                        await HandBackAsync(context, pause: held.Remaining > LongestWaitInPlace);
                        return;
                    }

                    break;
            }
        }
    }

    /// <remarks>
    /// The slot is given back as soon as the last attempt has its answer: recording and announcing the outcome need no
    /// crew API capacity, so the next user's call starts while this one is written down.
    /// </remarks>
    private async Task CallAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint, PriorityGate.Slot slot)
    {
        var command = context.Message;
        var cancellationToken = drain.Token;
        var request = new CrewRequest(command.Context, command.Goal);
        var idempotencyKey = $"{command.RunId}:{command.UserUid}";
        var started = timeProvider.GetTimestamp();
        var attempts = 0;
        var countedFailures = 0;

        // The ledger counts an attempt before it is made: the claim counted the first, BeginAttempt counts each later one.
        // Handed back before it was made, the attempt is given back with the claim.
        var attemptCounted = true;
        using var inFlight = metrics.CallInFlight();
        try
        {
            while (true)
            {
                using var permit = await EnterCircuitUnlessStoppingAsync(endpoint.Circuit, idempotencyKey, cancellationToken);
                if (permit is null)
                {
                    await HandBackClaimedAsync(context, attemptNotMade: attemptCounted);
                    return;
                }

                if (!attemptCounted && !await ledger.BeginAttemptAsync(command.RunId, command.UserUid, cancellationToken))
                {
                    LogClaimLost(logger, command.RunId, command.UserUid);
                    return;
                }

                attemptCounted = false;
                attempts++;
                var result = await crewApi.AttemptAsync(endpoint, request, idempotencyKey, cancellationToken);
                var counts = permit.Record(result);
                if (result.Outcome != CrewAttemptOutcome.Transient)
                {
                    slot.Dispose();
                    await RecordOutcomeAsync(context, result, attempts, timeProvider.GetElapsedTime(started));
                    return;
                }

                countedFailures += counts ? 1 : 0;
                if (countedFailures >= endpoint.MaxAttempts)
                {
                    endpoint.Circuit.Forget(idempotencyKey);
                    slot.Dispose();
                    await RecordOutcomeAsync(context, result, attempts, timeProvider.GetElapsedTime(started));
                    return;
                }

                if (!await UntilInfrastructureAnswersAsync(ct => ledger.RecordAttemptFailureAsync(command.RunId, command.UserUid, result.Reason, result.StatusCode, ct), cancellationToken))
                {
                    LogClaimLost(logger, command.RunId, command.UserUid);
                    return;
                }

                if (!counts)
                {
                    // No connection could be made and the circuit is open: the user waits in its line and keeps its attempts.
                    LogWaitingForCircuit(logger, command.RunId, command.UserUid, attempts, result.Reason);
                    continue;
                }

                var delay = RetrySchedule.DelayAfter(countedFailures, result.RetryAfter, settings, Random.Shared);
                LogRetrying(logger, command.RunId, command.UserUid, attempts, result.Reason, delay.TotalMilliseconds);
                metrics.Retrying(result);
                if (!await WaitUnlessStoppingAsync(delay, cancellationToken))
                {
                    await HandBackClaimedAsync(context, attemptNotMade: false);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The drain time ran out mid-call (or at the circuit's gate): the command goes back to the queue, and
            // whoever gets it should not wait out our lease.
            await HandBackClaimedAsync(context, attemptNotMade: attemptCounted);
        }
    }

    /// <summary>Records an answer or giving up, then announces it. Neither is retried by the message retry: both are outcomes.</summary>
    /// <remarks>
    /// Recording is retried until the database answers, whatever becomes of the delivery. Announcing stops when the
    /// delivery is cancelled too (MassTransit cancels it once its channel is gone and the endpoint's stop times out):
    /// the outcome is in the ledger by then, and the redelivered command announces it, so the endpoint can reconnect.
    /// </remarks>
    private async Task RecordOutcomeAsync(ConsumeContext<RunCrewForUser> context, CrewAttemptResult last, int attempts, TimeSpan duration)
    {
        var command = context.Message;
        var durationMs = (long)duration.TotalMilliseconds;
        var token = drain.Token;

        // Recorded before publishing: a crash in between is repaired by the redelivery re-publishing from the ledger.
        if (last.Outcome == CrewAttemptOutcome.Answered)
        {
            var json = last.ResponseJson!;
            var receivedAt = await UntilInfrastructureAnswersAsync(ct => ledger.RecordSuccessAsync(command.RunId, command.UserUid, json, last.StatusCode ?? 200, durationMs, ct), token);
            if (receivedAt is null)
            {
                LogClaimLost(logger, command.RunId, command.UserUid);
                return;
            }

            LogAnswered(logger, command.RunId, command.UserUid, attempts, durationMs);
            metrics.CallFinished(last, duration);
            await AnnounceAsync(context, ct => context.Publish(Answer(command, json, attempts, durationMs, receivedAt.Value), ct));
            return;
        }

        var reason = last.Outcome == CrewAttemptOutcome.Permanent ? last.Reason : $"{last.Reason} (gave up after {attempts} attempts)";
        var failedAt = await UntilInfrastructureAnswersAsync(ct => ledger.RecordFailureAsync(command.RunId, command.UserUid, reason, last.StatusCode, durationMs, ct), token);
        if (failedAt is null)
        {
            LogClaimLost(logger, command.RunId, command.UserUid);
            return;
        }

        LogGaveUp(logger, command.RunId, command.UserUid, attempts, reason);
        metrics.CallFinished(last, duration);
        await AnnounceAsync(context, ct => context.Publish(Failure(command, reason, last.StatusCode, attempts, failedAt.Value), ct));
    }

    private async Task AnnounceAsync(ConsumeContext<RunCrewForUser> context, Func<CancellationToken, Task> publish)
    {
        using var announcing = CancellationTokenSource.CreateLinkedTokenSource(drain.Token, context.CancellationToken);
        try
        {
            await UntilInfrastructureAnswersAsync(publish, announcing.Token);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && !drain.Token.IsCancellationRequested)
        {
            // As the delivery's own cancellation, so MassTransit leaves the command to its redelivery (never to _error).
            throw new OperationCanceledException(context.CancellationToken);
        }
    }

    /// <summary>
    /// Puts a copy of the command back at the end of the queue and lets this delivery complete, freeing the slot. The
    /// copy is confirmed by the broker before the original is acknowledged, so the command cannot be lost in between.
    /// </summary>
    private async Task HandBackAsync(ConsumeContext<RunCrewForUser> context, bool pause)
    {
        if (pause)
        {
            await WaitUnlessStoppingAsync(HandBackPause, context.CancellationToken);
        }

        var handBacks = context.Headers.Get(HandBacksHeader, default(int?)) ?? 0;
        var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
        await queue.Send(context.Message, send => send.Headers.Set(HandBacksHeader, handBacks + 1), context.CancellationToken);
        LogHandedBack(logger, context.Message.RunId, context.Message.UserUid, handBacks + 1);
    }

    /// <summary>Stopping while waiting between attempts or at an open circuit: the next instance (or this one restarted) takes over at once.</summary>
    private async Task HandBackClaimedAsync(ConsumeContext<RunCrewForUser> context, bool attemptNotMade)
    {
        await HandBackAsync(context, pause: false);
        await ReleaseQuietlyAsync(context.Message, attemptNotMade);
    }

    /// <param name="attemptNotMade">The ledger counted an attempt that never reached the crew API: it is given back.</param>
    private async Task ReleaseQuietlyAsync(RunCrewForUser command, bool attemptNotMade)
    {
        try
        {
            await ledger.ReleaseAsync(command.RunId, command.UserUid, attemptNotMade, CancellationToken.None);
        }
        catch (Exception ex) when (PlatformRetry.IsInfrastructureFault(ex))
        {
            // Not worth holding a stop for: without the heartbeat the lease runs out on its own.
            LogReleaseFailed(logger, ex, command.RunId, command.UserUid);
        }
    }

    /// <summary>Waits, unless the application starts stopping first (false then); a waiting consumer must not hold up a stop.</summary>
    private async Task<bool> WaitUnlessStoppingAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        await UnlessStoppingAsync(async token => { await Task.Delay(delay, timeProvider, token); return true; }, cancellationToken);

    /// <summary>
    /// The circuit's permit for the next attempt, or null when the application started stopping first or the circuit
    /// stayed open for <see cref="LongestCircuitWait"/>: a command held longer would outlive RabbitMQ's
    /// consumer_timeout, so it goes back to the queue and comes round again.
    /// </summary>
    private Task<CrewApiCircuit.CircuitPermit?> EnterCircuitUnlessStoppingAsync(CrewApiCircuit circuit, string caller, CancellationToken cancellationToken) =>
        UnlessStoppingAsync<CrewApiCircuit.CircuitPermit?>(async token => await circuit.EnterAsync(caller, token), cancellationToken, LongestCircuitWait);

    private async Task<T?> UnlessStoppingAsync<T>(Func<CancellationToken, Task<T>> wait, CancellationToken cancellationToken, TimeSpan? giveUpAfter = null)
    {
        var stopping = lifetime.ApplicationStopping;
        if (stopping.IsCancellationRequested)
        {
            return default;
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        using var tooLong = giveUpAfter is { } limit ? new CancellationTokenSource(limit, timeProvider) : new CancellationTokenSource();
        using var registration = tooLong.Token.Register(waiting.Cancel);
        try
        {
            return await wait(waiting.Token);
        }
        catch (OperationCanceledException) when ((stopping.IsCancellationRequested || tooLong.IsCancellationRequested) && !cancellationToken.IsCancellationRequested)
        {
            return default;
        }
    }

    private Task<T> UntilInfrastructureAnswersAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken) =>
        PlatformRetry.UntilInfrastructureAnswersAsync(action, timeProvider, cancellationToken, logger);

    private Task UntilInfrastructureAnswersAsync(Func<CancellationToken, Task> action, CancellationToken cancellationToken) =>
        PlatformRetry.UntilInfrastructureAnswersAsync(action, timeProvider, cancellationToken, logger);

    private static CrewResponseReceived Answer(RunCrewForUser command, string responseJson, int attempts, long durationMs, DateTimeOffset receivedAt) => new()
    {
        RunId = command.RunId,
        UserUid = command.UserUid,
        RequestContext = command.Context,
        RequestGoal = command.Goal,
        ResponseJson = responseJson,
        Attempts = attempts,
        DurationMs = durationMs,
        ReceivedAt = receivedAt,
        ScheduleId = command.ScheduleId,
        Endpoint = CrewEndpointNames.OrDefault(command.Endpoint),
    };

    private static CrewCallFailed Failure(RunCrewForUser command, string reason, int? statusCode, int attempts, DateTimeOffset failedAt) => new()
    {
        RunId = command.RunId,
        UserUid = command.UserUid,
        Reason = reason,
        StatusCode = statusCode,
        Attempts = attempts,
        FailedAt = failedAt,
        ScheduleId = command.ScheduleId,
        Endpoint = CrewEndpointNames.OrDefault(command.Endpoint),
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Crew answered for user {UserUid} in run {RunId} after {Attempts} attempt(s) in {DurationMs} ms")]
    private static partial void LogAnswered(ILogger logger, Guid runId, string userUid, int attempts, long durationMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew call for user {UserUid} in run {RunId} failed on attempt {Attempt} ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, Guid runId, string userUid, int attempt, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew call for user {UserUid} in run {RunId} could not connect on attempt {Attempt} ({Reason}) while the crew API circuit is open; waiting for it without counting the attempt")]
    private static partial void LogWaitingForCircuit(ILogger logger, Guid runId, string userUid, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up on the crew call for user {UserUid} in run {RunId} after {Attempts} attempt(s): {Reason}")]
    private static partial void LogGaveUp(ILogger logger, Guid runId, string userUid, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} already has a crew answer; re-publishing it instead of calling again")]
    private static partial void LogAlreadyAnswered(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Information, Message = "The crew call for user {UserUid} in run {RunId} failed for good ({Reason}); re-publishing the failure instead of calling again")]
    private static partial void LogAlreadyFailed(ILogger logger, Guid runId, string userUid, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another claim, claimable at {ClaimableAt} unless renewed")]
    private static partial void LogHeldElsewhere(ILogger logger, Guid runId, string userUid, DateTimeOffset claimableAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another consumer of this instance")]
    private static partial void LogHeldInThisProcess(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Handed the command for user {UserUid} in run {RunId} back to the queue (hand-back {HandBacks})")]
    private static partial void LogHandedBack(ILogger logger, Guid runId, string userUid, int handBacks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the claim on user {UserUid} in run {RunId} (another instance took over); leaving it to that instance")]
    private static partial void LogClaimLost(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the claim on user {UserUid} in run {RunId}; it lapses with its lease")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, Guid runId, string userUid);
}
