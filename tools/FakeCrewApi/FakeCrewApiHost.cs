using CrewPlatform.FakeCrewApi.Apis;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace CrewPlatform.FakeCrewApi;

/// <summary>Builds the fake as a process (<see cref="FakeCrewApiProgram"/>) or starts it inside a test on a free port.</summary>
public sealed class FakeCrewApiHost : IAsyncDisposable
{
    public const string DefaultUrl = "http://127.0.0.1:8090";

    private readonly WebApplication app;

    private FakeCrewApiHost(WebApplication app, Uri baseUrl)
    {
        this.app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>Where the fake listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The crew endpoint, the value for <c>CREW_API_URL</c>.</summary>
    public Uri RunCrewUrl => new(BaseUrl, "run-crew");

    public FakeCrewState State => app.Services.GetRequiredService<FakeCrewState>();

    public static WebApplication CreateApp(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(FakeCrewApiHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var behaviour = builder.Configuration.GetSection(FakeCrewBehaviour.SectionName).Get<FakeCrewBehaviour>() ?? new FakeCrewBehaviour();
        var problems = behaviour.Problems().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"Invalid {FakeCrewBehaviour.SectionName} settings: {string.Join("; ", problems)}");
        }

        builder.Services.AddSingleton(new FakeCrewState(behaviour));
        var app = builder.Build();
        app.MapRunCrewApi();
        app.MapAdminApi();
        return app;
    }

    /// <summary>Starts the fake on 127.0.0.1 (port 0: a free one) with the given <c>FakeCrew:*</c> settings.</summary>
    public static async Task<FakeCrewApiHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, int port = 0)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            [WebHostDefaults.ServerUrlsKey] = $"http://127.0.0.1:{port}",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var app = CreateApp([], all);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeCrewApiHost(app, new Uri(address.TrimEnd('/') + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
