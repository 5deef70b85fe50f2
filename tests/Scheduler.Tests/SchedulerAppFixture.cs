using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>A fixture's own database and virtual host with the Scheduler service running over them.</summary>
public class SchedulerAppFixture : RealInfrastructure
{
    public const string CrewApiUrl = "http://crew.test:9999/run-crew";

    public ServiceApp<Program> App { get; private set; } = null!;

    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CREW_API_URL"] = CrewApiUrl,
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        App = new ServiceApp<Program>(this, Settings);
        _ = App.Server;
    }

    public override async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await base.DisposeAsync();
    }
}
