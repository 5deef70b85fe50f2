namespace CrewPlatform.FakeCrewApi;

/// <summary>
/// A stand-in for the external crew API: <c>dotnet run --project tools/FakeCrewApi --urls http://127.0.0.1:8090</c>.
/// Not named <c>Program</c>, so tests can reference it next to a service's own <c>Program</c>.
/// </summary>
public static class FakeCrewApiProgram
{
    public static async Task Main(string[] args)
    {
        await using var app = FakeCrewApiHost.CreateApp(args);
        await app.RunAsync();
    }
}
