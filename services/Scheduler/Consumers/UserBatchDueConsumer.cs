using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>
/// One page of a run's fan-out: reads the next page of users, records it, sends one <see cref="RunCrewForUser"/>
/// per eligible user to the crew caller (but those recorded as unchanged) and hands the rest of the table to the next
/// page's event.
/// </summary>
public sealed partial class UserBatchDueConsumer(
    HostUsers users,
    RunProgress progress,
    ILogger<UserBatchDueConsumer> logger) : IConsumer<UserBatchDue>
{
    public async Task Consume(ConsumeContext<UserBatchDue> context)
    {
        var page = context.Message;
        var cancellationToken = context.CancellationToken;
        using var activity = CrewTracing.Scheduler.StartRunActivity("fan-out page", page.RunId);
        activity?.SetTag("crew.page", page.PageNumber);

        var pageUsers = await users.ReadPageAsync(page.AfterUserUid, page.PageSize, cancellationToken, page.Segment);
        var isLastPage = pageUsers.Count < page.PageSize;

        var recorded = await progress.RecordPageAsync(page.RunId, page.PageNumber, pageUsers, isLastPage, cancellationToken);
        if (recorded is not { Recorded: not PageRecorded.UnknownRun, Commands: { } run })
        {
            LogUnknownRun(logger, page.RunId, page.PageNumber);
            return;
        }

        // Sent even when a redelivered page recorded nothing new: the earlier attempt may have died before sending,
        // and the crew caller ignores a (run, user) it has already handled. A cancelled or budget-exhausted run's page
        // recorded its users as not called and sends nothing (users a redelivered page had recorded as dispatched
        // before are re-sent by the reconciler; the crew caller then skips them).
        var unchanged = recorded.Unchanged ?? new HashSet<string>();
        var commands = recorded.SendsCommands
            ? pageUsers.Where(u => u.IsEligible && !unchanged.Contains(u.Uid)).Select(u => run.For(u.Uid, u.Context, u.Goal)).ToList()
            : [];
        if (commands.Count > 0)
        {
            var endpoint = await context.GetSendEndpoint(run.Queue);
            await endpoint.SendBatch(commands, cancellationToken);
        }

        LogPage(logger, page.RunId, page.PageNumber, pageUsers.Count, commands.Count);

        if (!isLastPage)
        {
            // Only the copy that moved the cursor carries on; a copy behind it would start a second chain of pages.
            // Should the carrying copy die before its publish, the reconciler re-drives the fan-out from the cursor.
            if (recorded.Recorded == PageRecorded.BehindCursor)
            {
                LogBehindCursor(logger, page.RunId, page.PageNumber);
                return;
            }

            await context.Publish(
                page with { AfterUserUid = pageUsers[^1].Uid, PageNumber = page.PageNumber + 1 },
                cancellationToken);
            return;
        }

        // A run whose users were all skipped (or an empty table) gets no outcome that could complete it.
        if (await progress.TryCompleteAsync(page.RunId, cancellationToken) is { } completed)
        {
            await progress.PublishCompletedAsync(context, completed, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} page {PageNumber} came again after the fan-out moved past it; the next page is left to the copy that moved it")]
    private static partial void LogBehindCursor(ILogger logger, Guid runId, int pageNumber);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Page {PageNumber} of unknown run {RunId} ignored")]
    private static partial void LogUnknownRun(ILogger logger, Guid runId, int pageNumber);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} page {PageNumber}: {Users} users read, {Sent} sent to the crew caller")]
    private static partial void LogPage(ILogger logger, Guid runId, int pageNumber, int users, int sent);
}
