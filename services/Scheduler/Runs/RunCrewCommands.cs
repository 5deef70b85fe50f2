using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Scheduler.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>A user recorded as dispatched in a run, and whether its command must ask for a replay of a failed call.</summary>
public sealed record DispatchedUser(string Uid, bool ReplayFailed);

/// <summary>
/// Sends <see cref="RunCrewForUser"/> again for users a run has already recorded as dispatched: the reconciler's
/// re-send of lost outcomes and an operator's retry-failed. Context and goal are read from the users table as it is
/// now; a user who has left it cannot be called and is recorded as failed, which may complete the run.
/// </summary>
public sealed partial class RunCrewCommands(
    SchedulerDbContext db,
    HostUsers users,
    RunProgress progress,
    ISendEndpointProvider sendEndpoints,
    IPublishEndpoint publishEndpoint,
    TimeProvider time,
    ILogger<RunCrewCommands> logger)
{
    /// <summary>The crew caller's command queue for a crew endpoint at a priority.</summary>
    public static Uri QueueOf(string? endpoint, string? priority) =>
        ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUserOn(endpoint, priority));

    public const string UserGoneReason = "user no longer exists";

    /// <summary>Sends one page of commands; returns how many were sent (users gone from the table are not).</summary>
    public async Task<int> SendAsync(Guid runId, IReadOnlyList<DispatchedUser> page, CancellationToken cancellationToken)
    {
        // Also reached from outside the run's trace (the reconciler, retry-failed): the span joins the run's trace.
        using var activity = CrewTracing.Scheduler.StartRunActivity("send commands", runId);
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == runId)
            .Select(r => new { r.Endpoint, r.Priority, r.ScheduleId })
            .SingleAsync(cancellationToken);
        var current = await users.ReadByUidsAsync(page.Select(u => u.Uid).ToList(), cancellationToken);
        var commands = new List<RunCrewForUser>(page.Count);
        var gone = new List<UserOutcome>();
        foreach (var user in page)
        {
            if (current.TryGetValue(user.Uid, out var row))
            {
                commands.Add(new RunCrewForUser
                {
                    RunId = runId, UserUid = user.Uid, Context = row.Context, Goal = row.Goal, ReplayFailed = user.ReplayFailed,
                    Endpoint = run.Endpoint, Priority = run.Priority, ScheduleId = run.ScheduleId,
                });
                continue;
            }

            LogUserGone(logger, runId, user.Uid);
            gone.Add(UserOutcome.Failure(runId, user.Uid, UserGoneReason));
        }

        await progress.RecordOutcomesAndPublishAsync(publishEndpoint, gone, cancellationToken);

        if (commands.Count > 0)
        {
            var endpoint = await sendEndpoints.GetSendEndpoint(QueueOf(run.Endpoint, run.Priority));
            await PlatformRetry.WithinAttemptTimeoutAsync(ct => endpoint.SendBatch(commands, ct), time, cancellationToken);
        }

        return commands.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} user {UserUid} is no longer in the users table; recorded as failed")]
    private static partial void LogUserGone(ILogger logger, Guid runId, string userUid);
}
