using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// One scheduler instance without its web front: the real service registrations over the fixture's PostgreSQL
/// database, the MassTransit in-memory test harness as its bus, and the clock the test hands in. Two of these over
/// the same database are two replicas; disposing one and starting another is a restart.
/// </summary>
public sealed class SchedulerTestHost : IAsyncDisposable
{
    private readonly HarnessHost host;

    private SchedulerTestHost(HarnessHost host) => this.host = host;

    public ITestHarness Harness => host.Harness;

    public IServiceProvider Services => host.Services;

    /// <param name="replaceServices">Runs after every registration, so a test can swap one (e.g. a failing publisher).</param>
    public static async Task<SchedulerTestHost> StartAsync(
        RealInfrastructure infrastructure, TimeProvider time, IReadOnlyDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? replaceServices = null)
    {
        // Development, as WebApplicationFactory's: the fixture logs in with the local passwords, which Production refuses.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        builder.Configuration.AddInMemoryCollection(infrastructure.ServiceSettings);
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Services.AddLogging();
        builder.Services.AddSingleton(time);
        builder.AddSchedulerServices();

        var host = await HarnessHost.StartAsync(
            builder.Services, x => x.AddSchedulerConsumers(), timeout: TimeSpan.FromMinutes(3), inactivityTimeout: TimeSpan.FromMinutes(3), replaceServices);
        await host.Services.MigrateAsync<SchedulerDbContext>();
        return new SchedulerTestHost(host);
    }

    public Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action) => host.InScopeAsync(action);

    public Task<TickOutcome> TickAsync() =>
        InScopeAsync(services => services.GetRequiredService<ScheduleService>().TickAsync(CancellationToken.None));

    public Task<ScheduleState> StartScheduleAsync(int intervalMinutes) =>
        InScopeAsync(services => services.GetRequiredService<ScheduleService>().StartAsync(intervalMinutes, CancellationToken.None));

    public Task<ScheduleState> GetScheduleAsync() =>
        InScopeAsync(services => services.GetRequiredService<ScheduleService>().GetAsync(CancellationToken.None));

    public Task<Run> RunNowAsync() =>
        InScopeAsync(services => services.GetRequiredService<RunStarter>().StartManualAsync(CancellationToken.None));

    public Task<ReconcilePass> ReconcileAsync() =>
        InScopeAsync(services => services.GetRequiredService<RunReconciler>().ReconcileAsync(CancellationToken.None));

    /// <summary>Writes a run (and its users) as a scheduler that crashed at some point would have left it.</summary>
    public Task AddRunAsync(Run run, params RunUser[] users) =>
        InScopeAsync(async services =>
        {
            var db = services.GetRequiredService<SchedulerDbContext>();
            db.Runs.Add(run);
            db.RunUsers.AddRange(users);
            return await db.SaveChangesAsync();
        });

    public Task<List<Run>> RunsAsync() =>
        InScopeAsync(services => services.GetRequiredService<SchedulerDbContext>().Runs.AsNoTracking()
            .OrderBy(r => r.StartedAt).ThenBy(r => r.DueAt).ToListAsync());

    public Task<Run?> RunAsync(Guid runId) =>
        InScopeAsync(services => services.GetRequiredService<SchedulerDbContext>().Runs.AsNoTracking()
            .SingleOrDefaultAsync(r => r.Id == runId));

    public Task<List<RunUser>> RunUsersAsync(Guid runId) =>
        InScopeAsync(services => services.GetRequiredService<SchedulerDbContext>().RunUsers.AsNoTracking()
            .Where(u => u.RunId == runId).OrderBy(u => u.UserUid).ToListAsync());

    public List<T> SentSoFar<T>() where T : class => host.SentSoFar<T>();

    public List<T> PublishedSoFar<T>() where T : class => host.PublishedSoFar<T>();

    public List<T> ConsumedSoFar<T>() where T : class => host.ConsumedSoFar<T>();

    public ValueTask DisposeAsync() => host.DisposeAsync();
}
