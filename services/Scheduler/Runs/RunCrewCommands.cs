using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>A user recorded as dispatched in a run, and whether its command must ask for a replay of a failed call.</summary>
public sealed record DispatchedUser(string Uid, bool ReplayFailed);

/// <summary>
/// The one place a <see cref="RunCrewForUser"/> is built: a run's commands all go to the queue of its crew endpoint
/// and priority and carry its schedule and budget, whether the fan-out sends them or a re-send does.
/// </summary>
public sealed record RunCommands(Guid RunId, string? Endpoint, string? Priority, int? ScheduleId, RunBudget? Budget)
{
    /// <summary>
    /// The budget a run's commands carry, null when the run has no limit. The daily limit counts per schedule and UTC day
    /// of the run's start (<c>schedule:3:2026-12-04</c>), or for the run alone when it has no schedule (<c>run:{id}:{day}</c>).
    /// </summary>
    public static RunBudget? BudgetOf(Guid runId, int? scheduleId, DateTimeOffset startedAt, int? maxCalls, decimal? maxSpend, decimal? maxSpendPerDay)
    {
        if (maxCalls is null && maxSpend is null && maxSpendPerDay is null)
        {
            return null;
        }

        var day = startedAt.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        return new RunBudget
        {
            MaxCalls = maxCalls,
            MaxSpend = maxSpend,
            MaxSpendPerDay = maxSpendPerDay,
            DayScope = maxSpendPerDay is null ? null : scheduleId is { } id ? $"schedule:{id}:{day}" : $"run:{runId}:{day}",
        };
    }

    /// <summary>The commands of a run as its row holds it.</summary>
    public static RunCommands Of(Run run) => new(
        run.Id, run.Endpoint, run.Priority, run.ScheduleId,
        BudgetOf(run.Id, run.ScheduleId, run.StartedAt, run.MaxCallsPerRun, run.MaxSpendPerRun, run.MaxSpendPerDay));

    /// <summary>The crew caller's command queue for this run's crew endpoint at its priority.</summary>
    public Uri Queue => ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUserOn(Endpoint, Priority));

    public RunCrewForUser For(string userUid, string? context, string? goal, bool replayFailed = false) => new()
    {
        RunId = RunId, UserUid = userUid, Context = context, Goal = goal, ReplayFailed = replayFailed,
        Endpoint = Endpoint, Priority = Priority, ScheduleId = ScheduleId, Budget = Budget,
    };
}

/// <summary>
/// Sends <see cref="RunCrewForUser"/> again for users a run has already recorded as dispatched: the reconciler's
/// re-send of lost outcomes and an operator's retry-failed. Context and goal are read from the users table as it is
/// now; a user who has left it cannot be called and is recorded as failed, which may complete the run. Each user's
/// <see cref="RunUser.InputDigest"/> is kept true to what was sent: a first send or a replay (the crew caller calls with
/// this input) records its digest; a re-send (the crew caller may answer from an earlier command's call) keeps the
/// digest only when it carries the same input, and clears it otherwise, so that answer never lets a user be skipped.
/// </summary>
public sealed partial class RunCrewCommands(
    NpgsqlDataSource dataSource,
    SchedulerDbContext db,
    HostUsers users,
    RunProgress progress,
    ISendEndpointProvider sendEndpoints,
    IPublishEndpoint publishEndpoint,
    TimeProvider time,
    ILogger<RunCrewCommands> logger)
{
    public const string UserGoneReason = "user no longer exists";

    /// <summary>Sends one page of commands; returns how many were sent (users gone from the table are not).</summary>
    /// <param name="firstSend">
    /// The users' first command in the run, or a replay of a failed call: the crew caller calls with exactly this input.
    /// </param>
    public async Task<int> SendAsync(Guid runId, IReadOnlyList<DispatchedUser> page, CancellationToken cancellationToken, bool firstSend = false)
    {
        // Also reached from outside the run's trace (the reconciler, retry-failed): the span joins the run's trace.
        using var activity = CrewTracing.Scheduler.StartRunActivity("send commands", runId);
        var run = RunCommands.Of(await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, cancellationToken));
        var current = await users.ReadByUidsAsync(page.Select(u => u.Uid).ToList(), cancellationToken);
        var commands = new List<RunCrewForUser>(page.Count);
        var gone = new List<UserOutcome>();
        foreach (var user in page)
        {
            if (current.TryGetValue(user.Uid, out var row))
            {
                commands.Add(run.For(user.Uid, row.Context, row.Goal, user.ReplayFailed));
                continue;
            }

            LogUserGone(logger, runId, user.Uid);
            gone.Add(UserOutcome.Failure(runId, user.Uid, UserGoneReason));
        }

        await progress.RecordOutcomesAndPublishAsync(publishEndpoint, gone, cancellationToken);

        if (commands.Count > 0)
        {
            await RecordInputAsync(runId, commands, firstSend, cancellationToken);
            var endpoint = await sendEndpoints.GetSendEndpoint(run.Queue);
            await PlatformRetry.WithinAttemptTimeoutAsync(ct => endpoint.SendBatch(commands, ct), time, cancellationToken);
        }

        return commands.Count;
    }

    /// <summary>Before the commands go out, so that an answer to one of them always finds its input's digest recorded.</summary>
    private async Task RecordInputAsync(Guid runId, IReadOnlyList<RunCrewForUser> commands, bool firstSend, CancellationToken cancellationToken)
    {
        // Raw SQL: the digest is PostgreSQL's (UnchangedUsers.DigestSql), as the fan-out's page statement records it. The
        // rows are locked in key order first, the order RunProgress.RecordOutcomesAsync locks them in.
        await using var command = dataSource.CreateCommand(
            $"""
            WITH sent AS (
                SELECT s.uid, {UnchangedUsers.DigestSql("s.context", "s.goal")} AS digest
                FROM unnest(@uids, @contexts, @goals) AS s(uid, context, goal)
            ), locked AS MATERIALIZED (
                SELECT ru.user_uid FROM scheduler.run_users ru
                WHERE ru.run_id = @runId AND ru.user_uid IN (SELECT uid FROM sent) AND ru.status = '{RunUserStatus.Dispatched}'
                ORDER BY ru.run_id, ru.user_uid
                FOR UPDATE
            )
            UPDATE scheduler.run_users ru
            SET input_digest = CASE WHEN @firstSend OR ru.input_digest = sent.digest THEN sent.digest END
            FROM sent JOIN locked ON locked.user_uid = sent.uid
            WHERE ru.run_id = @runId AND ru.user_uid = sent.uid
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", commands.Select(c => c.UserUid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("contexts", commands.Select(c => c.Context).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("goals", commands.Select(c => c.Goal).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<bool>("firstSend", firstSend));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} user {UserUid} is no longer in the users table; recorded as failed")]
    private static partial void LogUserGone(ILogger logger, Guid runId, string userUid);
}
