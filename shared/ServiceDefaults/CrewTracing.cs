using System.Diagnostics;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// One run is one trace, and its trace id is the run id (<c>Guid.ToString("N")</c>): a run's trace is found from its
/// id alone, and a command sent for the run later (the reconciler's re-send, an operator's retry-failed, a re-driven
/// fan-out) joins the same trace with nothing stored. Within a run, MassTransit carries the context in message headers,
/// so each service's span is a child of the message that brought it; these helpers add the run id and user uid.
/// </summary>
public static class CrewTracing
{
    public const string RunIdTag = "crew.run_id";
    public const string UserUidTag = "crew.user_uid";

    public static readonly ActivitySource Scheduler = new("CrewPlatform.Scheduler");
    public static readonly ActivitySource CrewCaller = new("CrewPlatform.CrewCaller");
    public static readonly ActivitySource ResponseStore = new("CrewPlatform.ResponseStore");

    /// <summary>Every source above, for the tracer provider.</summary>
    public static readonly string[] SourceNames = [Scheduler.Name, CrewCaller.Name, ResponseStore.Name];

    /// <summary>The trace a run's spans belong to.</summary>
    public static ActivityTraceId TraceIdOf(Guid runId) => ActivityTraceId.CreateFromString(runId.ToString("N"));

    /// <summary>
    /// A span of a run. Under a span of the run's trace (a message of the run being consumed) it is that span's
    /// child. Anywhere else (the tick, an API request, the reconciler's pass) it starts at the top of the run's trace,
    /// linked to the span it was started from, so that request or pass still points at the run.
    /// </summary>
    /// <param name="traceParent">
    /// The W3C traceparent of the message the span handles, when it is not the current span's (one message of a batch).
    /// </param>
    public static Activity? StartRunActivity(this ActivitySource source, string name, Guid runId, string? userUid = null, string? traceParent = null)
    {
        var traceId = TraceIdOf(runId);
        var current = Activity.Current;
        Activity? activity;
        if (ActivityContext.TryParse(traceParent, null, out var parent) && parent.TraceId == traceId)
        {
            activity = source.StartActivity(name, ActivityKind.Internal, parent);
        }
        else if (current is not null && current.TraceId == traceId)
        {
            activity = source.StartActivity(name);
        }
        else
        {
            // A span of another trace must not be the in-process parent either, or it would be exported as the parent
            // span: the new span is the top of the run's trace. When it stops, the current span is none (the caller's
            // own returns with the caller, since every caller is an async method).
            Activity.Current = null;
            activity = source.StartActivity(
                name,
                ActivityKind.Internal,
                new ActivityContext(traceId, default, ActivityTraceFlags.Recorded),
                links: current is null ? null : [new ActivityLink(current.Context)]);
        }

        activity?.SetTag(RunIdTag, runId.ToString());
        if (userUid is not null)
        {
            activity?.SetTag(UserUidTag, userUid);
        }

        return activity;
    }
}
