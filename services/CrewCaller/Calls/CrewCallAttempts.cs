using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Calls;

/// <summary>
/// A claimed call's attempts, each through its endpoint's circuit, until one answers or fails for good or the attempts
/// are used up; a transient failure is retried after a backoff, never by redelivery. Each retry waits for the endpoint's
/// pace and is admitted by the run's budget; a 429 pauses the endpoint for every instance. A stop hands the command back.
/// </summary>
public sealed partial class CrewCallAttempts(
    CrewCallLedger ledger, CrewApiInvoker crewApi, CrewCallHandBack handBack, CrewCallDrain drain, CrewPace pace,
    IOptions<CrewCallerOptions> options, TimeProvider timeProvider, CrewCallerMetrics metrics, ILogger<CrewCallAttempts> logger)
{
    /// <summary>A claimed command waiting longer at an open circuit would outlive RabbitMQ's consumer_timeout: it goes back to the queue.</summary>
    private static readonly TimeSpan LongestCircuitWait = TimeSpan.FromMinutes(15);

    /// <summary>How the attempts ended; null when the command went back to the queue or the claim was lost.</summary>
    public async Task<CrewCallEnd?> MakeAsync(ConsumeContext<RunCrewForUser> context, CrewEndpoint endpoint, CallSpend? spend)
    {
        var (command, cancellationToken) = (context.Message, drain.Token);
        var (request, idempotencyKey) = (new CrewRequest(command.Context, command.Goal), $"{command.RunId}:{command.UserUid}");
        var (started, attempts, answeredAttempts, countedFailures) = (timeProvider.GetTimestamp(), 0, 0, 0);
        CrewAttemptResult? previous = null;

        // The ledger counts an attempt before it is made: the claim counted the first, BeginAttempt counts each later one.
        // Handed back before it was made, the attempt is given back with the claim.
        var countedAttemptNotMade = true;
        try
        {
            // No permit when a stop began or the circuit stayed open for LongestCircuitWait: the command goes back to the queue.
            while (await drain.UnlessStoppingAsync(token => endpoint.Circuit.EnterAsync(idempotencyKey, token), cancellationToken, LongestCircuitWait) is { } permit)
            {
                using (permit)
                {
                    if (previous is not null)
                    {
                        // A retry keeps its slot while it waits for the endpoint's pace, then its budget admits it (or ends the call).
                        if (!await WaitForPaceAsync(endpoint, cancellationToken))
                        {
                            break;
                        }

                        switch (await ledger.BeginAttemptAsync(command.RunId, command.UserUid, spend, cancellationToken))
                        {
                            case AttemptAdmission.ClaimLost:
                                CrewCallClaim.LogClaimLost(logger, command.RunId, command.UserUid);
                                return null;
                            case AttemptAdmission.BudgetRefused:
                                endpoint.Circuit.Forget(idempotencyKey);
                                return new CrewCallEnd(previous, attempts, answeredAttempts, timeProvider.GetElapsedTime(started), $"budget exhausted after {attempts} attempts");
                        }
                    }

                    countedAttemptNotMade = false;
                    attempts++;
                    var result = await crewApi.AttemptAsync(endpoint, request, idempotencyKey, cancellationToken);
                    (previous, answeredAttempts) = (result, answeredAttempts + (result.StatusCode is null ? 0 : 1));
                    var counts = permit.Record(result);
                    if (result.Outcome != CrewAttemptOutcome.Transient)
                    {
                        return new CrewCallEnd(result, attempts, answeredAttempts, timeProvider.GetElapsedTime(started));
                    }

                    if (result.StatusCode == (int)System.Net.HttpStatusCode.TooManyRequests)
                    {
                        // The crew API is rate limiting the endpoint, not this user: every instance pauses its calls to it.
                        await PlatformRetry.UntilInfrastructureAnswersAsync(
                            ct => pace.PauseAsync(endpoint, result.RetryAfter ?? TimeSpan.FromMilliseconds(options.Value.RetryBaseDelayMs), ct), timeProvider, cancellationToken, logger);
                    }

                    countedFailures += counts ? 1 : 0;
                    if (countedFailures >= endpoint.MaxAttempts)
                    {
                        endpoint.Circuit.Forget(idempotencyKey);
                        return new CrewCallEnd(result, attempts, answeredAttempts, timeProvider.GetElapsedTime(started));
                    }

                    if (!await PlatformRetry.UntilInfrastructureAnswersAsync(
                            ct => ledger.RecordAttemptFailureAsync(command.RunId, command.UserUid, result.Reason, result.StatusCode, ct), timeProvider, cancellationToken, logger))
                    {
                        CrewCallClaim.LogClaimLost(logger, command.RunId, command.UserUid);
                        return null;
                    }

                    if (!counts)
                    {
                        // No connection could be made and the circuit is open: the user waits in its line and keeps its attempts.
                        LogWaitingForCircuit(logger, command.RunId, command.UserUid, attempts, result.Reason);
                        continue;
                    }

                    var delay = RetrySchedule.DelayAfter(countedFailures, result.RetryAfter, options.Value, Random.Shared);
                    LogRetrying(logger, command.RunId, command.UserUid, attempts, result.Reason, delay.TotalMilliseconds);
                    metrics.Retrying(result);
                    if (!await drain.WaitUnlessStoppingAsync(delay, cancellationToken))
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The drain time ran out mid-call (or at the circuit's gate).
        }

        // Handed back with the claim given up: whoever gets the command next need not wait out our lease.
        await handBack.HandBackClaimedAsync(context, attemptNotMade: countedAttemptNotMade, spend);
        return null;
    }

    /// <summary>Waits, holding the slot, until the endpoint's pace lets a call start (the start is taken); false when a stop began.</summary>
    private async Task<bool> WaitForPaceAsync(CrewEndpoint endpoint, CancellationToken cancellationToken)
    {
        while (await pace.TryStartAsync(endpoint, cancellationToken) is var wait && wait > TimeSpan.Zero)
        {
            if (!await drain.WaitUnlessStoppingAsync(CrewPace.Capped(wait), cancellationToken))
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew call for user {UserUid} in run {RunId} failed on attempt {Attempt} ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, Guid runId, string userUid, int attempt, string reason, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew call for user {UserUid} in run {RunId} could not connect on attempt {Attempt} ({Reason}) while the crew API circuit is open; waiting for it without counting the attempt")]
    private static partial void LogWaitingForCircuit(ILogger logger, Guid runId, string userUid, int attempt, string reason);
}
