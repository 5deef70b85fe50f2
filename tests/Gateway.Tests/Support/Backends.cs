namespace CrewPlatform.Gateway.Tests.Support;

/// <summary>A scheduler stub and a response-store stub, started once per test class.</summary>
public sealed class Backends : IAsyncLifetime
{
    public StubBackend Scheduler { get; private set; } = null!;

    public StubBackend ResponseStore { get; private set; } = null!;

    public Dictionary<string, string?> GatewaySettings() => GatewayFactory.SettingsFor(Scheduler.Url, ResponseStore.Url);

    public async Task InitializeAsync()
    {
        Scheduler = await StubBackend.StartAsync("scheduler");
        ResponseStore = await StubBackend.StartAsync("response-store");
    }

    public async Task DisposeAsync()
    {
        await Scheduler.DisposeAsync();
        await ResponseStore.DisposeAsync();
    }
}
