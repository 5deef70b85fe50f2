using System.Diagnostics;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Calls the crew API for one user of one run, at most once per (run, user) however often the command arrives:
/// claims the ledger row, retries transient failures in-process, records the outcome, then publishes
/// <see cref="CrewResponseReceived"/> or <see cref="CrewCallFailed"/>.
/// </summary>
public sealed partial class RunCrewForUserConsumer(
    CrewCallLedger ledger,
    CrewApiInvoker crewApi,
    IOptions<CrewCallerOptions> options,
    TimeProvider timeProvider,
    ILogger<RunCrewForUserConsumer> logger) : IConsumer<RunCrewForUser>
{
    private static readonly TimeSpan LongestLeasePoll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShortestLeasePoll = TimeSpan.FromMilliseconds(200);

    private readonly CrewCallerOptions settings = options.Value;

    public async Task Consume(ConsumeContext<RunCrewForUser> context)
    {
        var command = context.Message;
        switch (await ClaimAsync(command, context.CancellationToken))
        {
            case ClaimResult.Claimed:
                await CallAsync(context);
                break;

            case ClaimResult.AlreadySucceeded done:
                // Covers a crash between recording the answer and publishing it; the ResponseStore stores once per (run, user).
                LogAlreadyAnswered(logger, command.RunId, command.UserUid);
                await context.Publish(new CrewResponseReceived
                {
                    RunId = command.RunId,
                    UserUid = command.UserUid,
                    RequestContext = command.Context,
                    RequestGoal = command.Goal,
                    ResponseJson = done.ResponseJson,
                    Attempts = done.Attempts,
                    DurationMs = done.DurationMs,
                    ReceivedAt = done.FinishedAt,
                });
                break;

            case ClaimResult.FailedElsewhere failed:
                LogFailedElsewhere(logger, command.RunId, command.UserUid, failed.LastError);
                break;
        }
    }

    /// <summary>
    /// Claims the (run, user), or waits while another live claim holds it: that holder may crash, and then this
    /// delivery (often its own redelivery) must take over once the lease runs out rather than be dropped.
    /// </summary>
    private async Task<ClaimResult> ClaimAsync(RunCrewForUser command, CancellationToken cancellationToken)
    {
        var takeOverFailed = true;
        while (true)
        {
            var claim = await ledger.TryClaimAsync(command.RunId, command.UserUid, settings.ClaimLease, takeOverFailed, cancellationToken);
            if (claim is not ClaimResult.HeldElsewhere held)
            {
                return claim;
            }

            // A failure recorded by the holder we waited on is that holder's to report; do not call a second time.
            takeOverFailed = false;
            LogHeldElsewhere(logger, command.RunId, command.UserUid, held.LeaseExpiresAt);
            var untilExpiry = held.LeaseExpiresAt - held.DatabaseNow;
            var wait = untilExpiry < ShortestLeasePoll ? ShortestLeasePoll : untilExpiry > LongestLeasePoll ? LongestLeasePoll : untilExpiry;
            await Task.Delay(wait, timeProvider, cancellationToken);
        }
    }

    private async Task CallAsync(ConsumeContext<RunCrewForUser> context)
    {
        var command = context.Message;
        var cancellationToken = context.CancellationToken;
        var request = new CrewRequest(command.Context, command.Goal);
        var started = Stopwatch.GetTimestamp();
        CrewAttemptResult? last = null;
        var attempt = 0;
        try
        {
            while (attempt < settings.MaxAttempts)
            {
                attempt++;
                if (!await ledger.BeginAttemptAsync(command.RunId, command.UserUid, settings.ClaimLease, cancellationToken))
                {
                    LogClaimLost(logger, command.RunId, command.UserUid);
                    return;
                }

                last = await crewApi.AttemptAsync(request, cancellationToken);
                if (last.Outcome == CrewAttemptOutcome.Answered)
                {
                    await AnsweredAsync(context, last, attempt, Stopwatch.GetElapsedTime(started));
                    return;
                }

                if (last.Outcome == CrewAttemptOutcome.Permanent || attempt == settings.MaxAttempts)
                {
                    break;
                }

                var delay = RetrySchedule.DelayAfter(attempt, last.RetryAfter, settings, Random.Shared);
                LogRetrying(logger, command.RunId, command.UserUid, attempt, last.Reason, delay.TotalMilliseconds);
                await ledger.RecordAttemptFailureAsync(command.RunId, command.UserUid, last.Reason, last.StatusCode, settings.ClaimLease, cancellationToken);
                await Task.Delay(delay, timeProvider, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the broker redelivers the command, and whoever gets it should not wait out our lease.
            await ledger.ReleaseAsync(command.RunId, command.UserUid);
            throw;
        }

        await GaveUpAsync(context, last!, attempt, Stopwatch.GetElapsedTime(started));
    }

    private async Task AnsweredAsync(ConsumeContext<RunCrewForUser> context, CrewAttemptResult answer, int attempts, TimeSpan duration)
    {
        var command = context.Message;
        var durationMs = (long)duration.TotalMilliseconds;

        // Recorded before publishing: a crash in between is repaired by the redelivery re-publishing from the ledger.
        if (!await ledger.RecordSuccessAsync(command.RunId, command.UserUid, answer.ResponseJson!, answer.StatusCode ?? 200, durationMs, context.CancellationToken))
        {
            LogClaimLost(logger, command.RunId, command.UserUid);
            return;
        }

        LogAnswered(logger, command.RunId, command.UserUid, attempts, durationMs);
        await context.Publish(new CrewResponseReceived
        {
            RunId = command.RunId,
            UserUid = command.UserUid,
            RequestContext = command.Context,
            RequestGoal = command.Goal,
            ResponseJson = answer.ResponseJson!,
            Attempts = attempts,
            DurationMs = durationMs,
            ReceivedAt = timeProvider.GetUtcNow(),
        });
    }

    private async Task GaveUpAsync(ConsumeContext<RunCrewForUser> context, CrewAttemptResult last, int attempts, TimeSpan duration)
    {
        var command = context.Message;
        var reason = last.Outcome == CrewAttemptOutcome.Permanent ? last.Reason : $"{last.Reason} (gave up after {attempts} attempts)";
        await ledger.RecordFailureAsync(command.RunId, command.UserUid, reason, last.StatusCode, (long)duration.TotalMilliseconds, context.CancellationToken);
        LogGaveUp(logger, command.RunId, command.UserUid, attempts, reason);
        await context.Publish(new CrewCallFailed
        {
            RunId = command.RunId,
            UserUid = command.UserUid,
            Reason = reason,
            StatusCode = last.StatusCode,
            Attempts = attempts,
            FailedAt = timeProvider.GetUtcNow(),
        });

        var message = $"Crew call for user {command.UserUid} in run {command.RunId} failed: {reason}";
        throw last.Outcome == CrewAttemptOutcome.Permanent
            ? new CrewCallRejectedException(message)
            : new CrewApiUnavailableException(message);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Crew answered for user {UserUid} in run {RunId} after {Attempts} attempt(s) in {DurationMs} ms")]
    private static partial void LogAnswered(ILogger logger, Guid runId, string userUid, int attempts, long durationMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew call for user {UserUid} in run {RunId} failed on attempt {Attempt} ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, Guid runId, string userUid, int attempt, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up on the crew call for user {UserUid} in run {RunId} after {Attempts} attempt(s): {Reason}")]
    private static partial void LogGaveUp(ILogger logger, Guid runId, string userUid, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} already has a crew answer; re-publishing it instead of calling again")]
    private static partial void LogAlreadyAnswered(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserUid} in run {RunId} is being called by another claim until {LeaseExpiresAt}; waiting")]
    private static partial void LogHeldElsewhere(ILogger logger, Guid runId, string userUid, DateTimeOffset leaseExpiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "The crew call for user {UserUid} in run {RunId} failed under another claim ({LastError}); not calling again")]
    private static partial void LogFailedElsewhere(ILogger logger, Guid runId, string userUid, string? lastError);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the claim on user {UserUid} in run {RunId} (lease ran out and another instance took over); leaving it to that instance")]
    private static partial void LogClaimLost(ILogger logger, Guid runId, string userUid);
}
