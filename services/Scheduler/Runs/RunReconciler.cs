using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>What one reconciler pass did; <see cref="Ran"/> is false when another replica held the pass.</summary>
public sealed record ReconcilePass(
    bool Ran, int FanOutsRedriven, int CompletionsPublished, int RunsRedispatched, int CommandsResent, int CancelsAnnounced = 0)
{
    public static readonly ReconcilePass NotThisReplica = new(false, 0, 0, 0, 0);
}

/// <summary>
/// Heals what a crash or a lost message leaves behind, so every run ends and says so:
/// a fan-out that stopped (the first page never published, a page lost) is re-driven from its stored cursor;
/// a run that is complete but not completed is completed, and a completion never announced is announced;
/// users whose outcome never came get their command again; a running run's cancel is announced again, so a lost
/// <see cref="CrewRunCancelled"/> cannot leave the crew caller calling its users. Every step is safe to repeat: pages and outcomes
/// count each (run, user) once, and the crew caller's ledger makes a re-sent command a no-op or a re-announcement.
/// </summary>
public sealed partial class RunReconciler(
    NpgsqlDataSource dataSource,
    RunProgress progress,
    RunCrewCommands commands,
    RunCancellation cancellation,
    IPublishEndpoint publishEndpoint,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    ILogger<RunReconciler> logger)
{
    private readonly SchedulerOptions settings = options.Value;

    /// <summary>
    /// The normal path announces a completion right after committing it; the reconciler leaves it this long to do so,
    /// so the two rarely both publish (both may: the event is at least once).
    /// </summary>
    public static readonly TimeSpan CompletionPublishGrace = TimeSpan.FromSeconds(5);

    private const int MaxCompletionsPerPass = 1000;

    /// <summary>The advisory lock of a pass: any key the other services of the shared database do not use ("CRWRECON").</summary>
    public const long PassLockKey = 0x4352_5752_4543_4F4E;

    /// <summary>
    /// One pass, in one replica at a time: a transaction-scoped advisory lock on a connection of its own, so a replica
    /// that dies mid-pass releases it with its connection, and a replica that does not get it skips the pass.
    /// </summary>
    public async Task<ReconcilePass> ReconcileAsync(CancellationToken cancellationToken)
    {
        await using var passLock = await PassLock.TryTakeAsync(dataSource, PassLockKey, cancellationToken);
        if (passLock is null)
        {
            LogNotThisReplica(logger);
            return ReconcilePass.NotThisReplica;
        }

        var redriven = await RedriveStalledFanOutsAsync(cancellationToken);
        var published = await PublishCompletionsAsync(cancellationToken);
        var (redispatched, resent) = await RedispatchLostOutcomesAsync(cancellationToken);
        var cancels = await AnnounceCancelsAsync(cancellationToken);

        return new ReconcilePass(true, redriven, published, redispatched, resent, cancels);
    }

    /// <summary>
    /// Claims the stalled fan-outs in one UPDATE (stamping <c>last_reconciled_at</c>, so each waits a full stall period
    /// before the next re-drive) and publishes each one's next page from its stored cursor: page 1 when no page was
    /// ever recorded, which is the crash between committing a run and publishing its first page.
    /// </summary>
    private async Task<int> RedriveStalledFanOutsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Raw SQL: claim and read in one UPDATE .. RETURNING; EF's ExecuteUpdate returns only a count.
        await using var claim = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET last_reconciled_at = @now
            WHERE status = '{RunStatus.Running}' AND NOT fan_out_completed
              AND greatest(last_progress_at, last_reconciled_at) < @stalledBefore
            RETURNING id, fan_out_after_uid, next_page_number, segment, endpoint, priority, schedule_id
            """);
        claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
        claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("stalledBefore", now.AddSeconds(-settings.FanOutStallSeconds)));
        var pages = new List<UserBatchDue>();
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var run = new Run
                {
                    Id = reader.GetGuid(0),
                    Segment = reader.IsDBNull(3) ? null : reader.GetString(3),
                    Endpoint = reader.GetString(4),
                    Priority = reader.GetString(5),
                    ScheduleId = reader.IsDBNull(6) ? null : reader.GetInt32(6),
                };
                pages.Add(RunStarter.Page(run, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt32(2), settings.PageSize));
            }
        }

        foreach (var page in pages)
        {
            LogRedrive(logger, page.RunId, page.PageNumber, page.AfterUserUid, settings.FanOutStallSeconds);
            using var activity = CrewTracing.Scheduler.StartRunActivity("re-drive fan-out", page.RunId);
            await PlatformRetry.WithinAttemptTimeoutAsync(ct => publishEndpoint.Publish(page, ct), time, cancellationToken);
        }

        return pages.Count;
    }

    /// <summary>
    /// Completes every run that is complete but still running (its completing consumer died after recording), then
    /// announces every completion not marked published: those just completed here, and older ones whose publisher
    /// died between commit and publish.
    /// </summary>
    private async Task<int> PublishCompletionsAsync(CancellationToken cancellationToken)
    {
        var completions = new List<CrewRunCompleted>(await progress.CompleteReadyRunsAsync(cancellationToken));
        var justCompleted = completions.Select(c => c.RunId).ToHashSet();
        var unannounced = await progress.UnpublishedCompletionsAsync(time.GetUtcNow() - CompletionPublishGrace, MaxCompletionsPerPass, cancellationToken);
        completions.AddRange(unannounced.Where(c => !justCompleted.Contains(c.RunId)));

        foreach (var completed in completions)
        {
            LogPublishCompletion(logger, completed.RunId, completed.CompletedAt);
            await progress.PublishCompletedAsync(publishEndpoint, completed, cancellationToken);
        }

        return completions.Count;
    }

    /// <summary>
    /// Claims the fanned-out runs that have recorded no outcome for the redispatch threshold and sends their
    /// still-dispatched users' commands again, page by page. A user moved back by retry-failed gets
    /// <c>ReplayFailed</c> again: should its replay have been lost, a plain command would only re-announce the failure.
    /// </summary>
    private async Task<(int Runs, int Commands)> RedispatchLostOutcomesAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var runs = new List<Guid>();
        // Raw SQL: claim and read in one UPDATE .. RETURNING; EF's ExecuteUpdate returns only a count.
        await using (var claim = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET last_reconciled_at = @now
            WHERE status = '{RunStatus.Running}' AND fan_out_completed
              AND greatest(last_progress_at, last_reconciled_at) < @quietBefore
            RETURNING id
            """))
        {
            claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
            claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("quietBefore", now.AddMinutes(-settings.RedispatchAfterMinutes)));
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                runs.Add(reader.GetGuid(0));
            }
        }

        var sent = 0;
        foreach (var runId in runs)
        {
            var sentForRun = 0;
            string? after = null;
            while (await DispatchedUsersAsync(runId, after, cancellationToken) is { Count: > 0 } page)
            {
                sentForRun += await commands.SendAsync(runId, page, cancellationToken);
                after = page[^1].Uid;
            }

            LogRedispatched(logger, runId, sentForRun, settings.RedispatchAfterMinutes);
            sent += sentForRun;
        }

        return (runs.Count, sent);
    }

    /// <summary>Publishes <see cref="CrewRunCancelled"/> again for every running run with a cancel requested (the partial running index finds them).</summary>
    private async Task<int> AnnounceCancelsAsync(CancellationToken cancellationToken)
    {
        var cancels = new List<CrewRunCancelled>();
        // Raw SQL: the reconciler works on the data source, without a DbContext.
        await using (var command = dataSource.CreateCommand(
            $"SELECT id, cancel_requested_at FROM scheduler.runs WHERE status = '{RunStatus.Running}' AND cancel_requested_at IS NOT NULL"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                cancels.Add(new CrewRunCancelled { RunId = reader.GetGuid(0), CancelledAt = reader.GetFieldValue<DateTimeOffset>(1) });
            }
        }

        foreach (var cancelled in cancels)
        {
            await cancellation.PublishAsync(publishEndpoint, cancelled, cancellationToken);
        }

        return cancels.Count;
    }

    private async Task<IReadOnlyList<DispatchedUser>> DispatchedUsersAsync(Guid runId, string? afterUid, CancellationToken cancellationToken)
    {
        // Raw SQL: the reconciler works on the data source, without a DbContext, like the run bookkeeping it shares statements with.
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT user_uid, replay_failed FROM scheduler.run_users
            WHERE run_id = @runId AND status = '{RunUserStatus.Dispatched}' AND (@after::text IS NULL OR user_uid > @after)
            ORDER BY user_uid
            LIMIT @pageSize
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<string?>("after", afterUid) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<int>("pageSize", settings.PageSize));
        var users = new List<DispatchedUser>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            users.Add(new DispatchedUser(reader.GetString(0), reader.GetBoolean(1)));
        }

        return users;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reconciler pass skipped: another replica holds it")]
    private static partial void LogNotThisReplica(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: fan-out stalled for {StallSeconds} s; page {PageNumber} published again after {AfterUserUid}")]
    private static partial void LogRedrive(ILogger logger, Guid runId, int pageNumber, string? afterUserUid, int stallSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: completion of {CompletedAt} was not announced; CrewRunCompleted published by the reconciler")]
    private static partial void LogPublishCompletion(ILogger logger, Guid runId, DateTimeOffset completedAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: no outcome for {Minutes} min; {Commands} commands sent again to users still dispatched")]
    private static partial void LogRedispatched(ILogger logger, Guid runId, int commands, int minutes);
}
