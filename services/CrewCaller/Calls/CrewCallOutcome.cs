using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Calls;

/// <summary>
/// How a claimed call's attempts ended: the last attempt, how many were made (and got an HTTP answer), how long they
/// took in all, and, when the budget refused a retry, why the call ends there.
/// </summary>
public sealed record CrewCallEnd(CrewAttemptResult Last, int Attempts, int AnsweredAttempts, TimeSpan Duration, string? BudgetRefusal = null);

/// <summary>
/// Records a call's answer or giving up in the ledger, then announces it: <see cref="CrewResponseReceived"/> or
/// <see cref="CrewCallFailed"/>. Neither is retried by the message retry: both are outcomes, and giving up is
/// acknowledged like an answer (an operator's retry-failed replays it).
/// </summary>
/// <remarks>
/// Recording is retried until the database answers, whatever becomes of the delivery, because losing a paid answer
/// would mean buying it again. Announcing stops when the delivery is cancelled too (MassTransit cancels it once its
/// channel is gone and the endpoint's stop times out): the outcome is in the ledger by then, and the redelivered
/// command announces it, so the endpoint can reconnect.
/// </remarks>
public sealed partial class CrewCallOutcome(
    CrewCallLedger ledger, CrewCallHandBack handBack, CrewCallDrain drain, TimeProvider timeProvider, CrewCallerMetrics metrics, ILogger<CrewCallOutcome> logger)
{
    public async Task RecordAndAnnounceAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint, CrewCallEnd end, CallSpend? spend)
    {
        var (command, last, attempts, durationMs) = (context.Message, end.Last, end.Attempts, (long)end.Duration.TotalMilliseconds);
        var answered = last.Outcome == CrewAttemptOutcome.Answered;
        var reason = end.BudgetRefusal ?? (last.Outcome == CrewAttemptOutcome.Permanent ? last.Reason : $"{last.Reason} (gave up after {attempts} attempts)");
        var cost = answered ? endpoint.Price.OfAnswer(last.ResponseJson!) : endpoint.Price.OfFailure(end.AnsweredAttempts);
        try
        {
            // Recorded before publishing: a crash in between is repaired by the redelivery re-publishing from the ledger.
            var recordedAt = await PlatformRetry.UntilInfrastructureAnswersAsync(ct => answered
                ? ledger.RecordSuccessAsync(command.RunId, command.UserUid, last.ResponseJson!, last.StatusCode ?? 200, durationMs, cost, spend, ct)
                : ledger.RecordFailureAsync(command.RunId, command.UserUid, reason, last.StatusCode, durationMs, cost, spend, ct), timeProvider, drain.Token, logger);
            if (recordedAt is not { } at)
            {
                CrewCallClaim.LogClaimLost(logger, command.RunId, command.UserUid);
                return;
            }

            if (answered)
            {
                LogAnswered(logger, command.RunId, command.UserUid, attempts, durationMs);
            }
            else
            {
                LogGaveUp(logger, command.RunId, command.UserUid, attempts, reason);
            }

            metrics.CallFinished(last, end.Duration);
            metrics.Spent(endpoint.Name, command.ScheduleId, cost);
            await AnnounceAsync(context, ct => answered
                ? context.Publish(Answer(command, last.ResponseJson!, attempts, durationMs, at, cost), ct)
                : context.Publish(Failure(command, reason, last.StatusCode, attempts, at, cost), ct));
        }
        catch (OperationCanceledException) when (drain.Token.IsCancellationRequested)
        {
            // The drain time ran out before the outcome was announced: the redelivered command announces it from the ledger.
            await handBack.HandBackClaimedAsync(context, attemptNotMade: false, spend);
        }
    }

    private async Task AnnounceAsync(ConsumeContext<RunCrewForUser> context, Func<CancellationToken, Task> publish)
    {
        using var announcing = CancellationTokenSource.CreateLinkedTokenSource(drain.Token, context.CancellationToken);
        try
        {
            await PlatformRetry.UntilInfrastructureAnswersAsync(publish, timeProvider, announcing.Token, logger);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested && !drain.Token.IsCancellationRequested)
        {
            // As the delivery's own cancellation, so MassTransit leaves the command to its redelivery (never to _error).
            throw new OperationCanceledException(context.CancellationToken);
        }
    }

    internal static CrewResponseReceived Answer(RunCrewForUser command, string responseJson, int attempts, long durationMs, DateTimeOffset receivedAt, decimal? cost) => new()
    {
        RunId = command.RunId, UserUid = command.UserUid, RequestContext = command.Context, RequestGoal = command.Goal,
        ResponseJson = responseJson, Attempts = attempts, DurationMs = durationMs, ReceivedAt = receivedAt,
        ScheduleId = command.ScheduleId, Endpoint = CrewEndpointNames.OrDefault(command.Endpoint), Cost = cost,
    };

    internal static CrewCallFailed Failure(RunCrewForUser command, string reason, int? statusCode, int attempts, DateTimeOffset failedAt, decimal? cost) => new()
    {
        RunId = command.RunId, UserUid = command.UserUid, Reason = reason, StatusCode = statusCode, Attempts = attempts,
        FailedAt = failedAt, ScheduleId = command.ScheduleId, Endpoint = CrewEndpointNames.OrDefault(command.Endpoint), Cost = cost,
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Crew answered for user {UserUid} in run {RunId} after {Attempts} attempt(s) in {DurationMs} ms")]
    private static partial void LogAnswered(ILogger logger, Guid runId, string userUid, int attempts, long durationMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up on the crew call for user {UserUid} in run {RunId} after {Attempts} attempt(s): {Reason}")]
    private static partial void LogGaveUp(ILogger logger, Guid runId, string userUid, int attempts, string reason);
}
