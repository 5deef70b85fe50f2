using CrewPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The whole Scheduler service over the fixture's real PostgreSQL database and RabbitMQ virtual host.</summary>
public sealed class SchedulerApp(RealInfrastructure infrastructure, IReadOnlyDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in infrastructure.ServiceSettings.Concat(settings ?? new Dictionary<string, string?>()))
        {
            builder.UseSetting(key, value);
        }
    }
}

/// <summary>A fixture's own database and virtual host with the Scheduler service running over them.</summary>
public class SchedulerAppFixture : RealInfrastructure
{
    public const string CrewApiUrl = "http://crew.test:9999/run-crew";

    public SchedulerApp App { get; private set; } = null!;

    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CREW_API_URL"] = CrewApiUrl,
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        App = new SchedulerApp(this, Settings);
        _ = App.Server;
    }

    public override async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await base.DisposeAsync();
    }
}
