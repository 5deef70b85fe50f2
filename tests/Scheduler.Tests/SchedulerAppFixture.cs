using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>A fixture's own database and virtual host with the Scheduler service running over them.</summary>
public class SchedulerAppFixture : RealInfrastructure
{
    public const string CrewApiUrl = "http://crew.test:9999/run-crew";

    /// <summary>The scheduler's schema, which every database of these tests starts with.</summary>
    public static readonly ServiceSchema Schema = ServiceSchema.Of<SchedulerDbContext>(SchedulerDbContext.Schema);

    public ServiceApp<Program> App { get; private set; } = null!;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [Schema];

    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CREW_API_URL"] = CrewApiUrl,
    };

    /// <summary>Registrations swapped after the service's own (e.g. a fake clock).</summary>
    protected virtual void OverrideServices(IServiceCollection services)
    {
    }

    /// <summary>Shapes the host's users table before the service starts and checks its segments against it.</summary>
    protected virtual Task PrepareUsersTableAsync() => Task.CompletedTask;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await PrepareUsersTableAsync();
        App = new ServiceApp<Program>(this, Settings, OverrideServices);
        _ = App.Server;
    }

    public override async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await base.DisposeAsync();
    }
}
