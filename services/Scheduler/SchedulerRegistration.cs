using Coravel;
using CrewPlatform.Scheduler.Apis;
using CrewPlatform.Scheduler.Consumers;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Retention;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.ServiceDefaults.Retention;
using MassTransit;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler;

public static class SchedulerRegistration
{
    /// <summary>The crew caller's command queues declared at startup, settings, the database, the schedule and run tracking, and the bus with the scheduler's consumers.</summary>
    public static WebApplicationBuilder AddScheduler(this WebApplicationBuilder builder)
    {
        // First, so the crew caller's queues exist before the schedule's tick, the reconciler, the bus or the API start:
        // a command sent before any CrewCaller ever ran waits in its queue.
        builder.AddPlatformQueueDeclaration(services => services.GetRequiredService<IOptions<SchedulerOptions>>().Value.CommandQueues());
        builder.AddSchedulerServices();
        builder.AddMessaging(x => x.AddSchedulerConsumers());
        builder.Services.DescribeOpenApi(
            "CrewPlatform scheduler",
            ("Scheduler", "The default schedule, run-now, and the runs with their outcomes"),
            ("Schedules", "Schedules: a segment of users on a crew endpoint, every interval"),
            ("Audit", "Who did what: every operator action, from the audit trail"));
        builder.Services.Configure<OpenApiOptions>("v1", options => options.AddSchemaTransformer(RequestBodySchemas.DescribeAsync));
        return builder;
    }

    /// <summary><c>/api/scheduler</c> and the Coravel ticks.</summary>
    public static WebApplication MapScheduler(this WebApplication app)
    {
        app.MapSchedulerApi();
        app.MapSchedulesApi();
        app.MapAuditApi();
        app.UseSchedulerTicks();
        return app;
    }

    /// <summary>The scheduler's consumers, for the real bus and for the test harness alike.</summary>
    public static IBusRegistrationConfigurator AddSchedulerConsumers(this IBusRegistrationConfigurator x)
    {
        x.AddConsumer<UserBatchDueConsumer, UserBatchDueConsumerDefinition>();
        x.AddConsumer<CrewResponseStoredConsumer, CrewResponseStoredConsumerDefinition>();
        x.AddConsumer<CrewCallFailedConsumer, CrewCallFailedConsumerDefinition>();
        x.AddConsumer<CrewCallSkippedConsumer, CrewCallSkippedConsumerDefinition>();

        // The cancel API's request to the crew caller (published: every crew caller instance shares its one queue).
        x.AddRequestClient<Contracts.CrewRunCancelled>();
        return x;
    }

    /// <summary>Settings, the scheduler's database, the schedule, run tracking and the Coravel ticks (messaging is added separately).</summary>
    public static TBuilder AddSchedulerServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.AddPostgresDbContext<TBuilder, SchedulerDbContext>(SchedulerDbContext.Schema);
        builder.AddValidatedOptions<SchedulerOptions>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<HostUsers>();
        builder.Services.AddHostedService<SegmentColumnsCheck>();
        builder.Services.AddSingleton<RunProgress>();
        builder.Services.AddSingleton<UnchangedUsers>();
        builder.Services.AddScoped<RunStarter>();
        builder.Services.AddScoped<RunCrewCommands>();
        builder.Services.AddScoped<RunReconciler>();
        builder.Services.AddScoped<FailedUserRetry>();
        builder.Services.AddScoped<RunCancellation>();
        builder.Services.AddScoped<RunPreview>();
        builder.Services.AddScoped<ScheduleViews>();
        builder.Services.AddScoped<ScheduleService>();
        builder.Services.AddScheduler();
        builder.Services.AddTransient<ScheduleTick>();
        builder.Services.AddSingleton<ReconcilePacer>();
        builder.Services.AddTransient<ReconcileTick>();
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<SchedulerMetrics>();
        builder.Services.AddTransient<RunGaugesRefresh>();
        builder.AddRunHistoryRetention<TBuilder, RunRetention>();
        builder.AddAuditTrail("scheduler");
        builder.AddValidatedOptions<AuditRetentionOptions>();
        builder.Services.AddRetentionPass<AuditRetention>();
        return builder;
    }

    /// <summary>
    /// The schedule's tick, every few seconds: it only looks at the stored due time, so how often it runs decides how
    /// late a run can start (at most one tick), never how often runs happen. The run reconciler's tick, and the metrics' gauges.
    /// </summary>
    public static WebApplication UseSchedulerTicks(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
        app.Services.UseScheduler(scheduler =>
        {
            scheduler.Schedule<ScheduleTick>()
                .EverySeconds(settings.TickSeconds)
                .PreventOverlapping(nameof(ScheduleTick));
            scheduler.Schedule<ReconcileTick>()
                .EverySecond()
                .PreventOverlapping(nameof(ReconcileTick));
            scheduler.Schedule<RunGaugesRefresh>()
                .EverySeconds(settings.TickSeconds)
                .PreventOverlapping(nameof(RunGaugesRefresh));
        });
        return app;
    }
}
