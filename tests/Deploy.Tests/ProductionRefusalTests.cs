namespace CrewPlatform.Deploy.Tests;

/// <summary>Each service, started as its own process in Production with a published default, stops at once naming the setting.</summary>
public sealed class ProductionRefusalTests
{
    private const string OwnPassword = "b71e0c5a9d34f2";

    public static TheoryData<string, string, string> KnownDefaults => new()
    {
        { "Scheduler", "RabbitMq__Password", "guest" },
        { "CrewCaller", "RabbitMq__Password", "guest" },
        { "ResponseStore", "RabbitMq__Password", "guest" },
        { "Scheduler", "ConnectionStrings__Postgres", "Host=127.0.0.1;Database=crewplatform;Username=crew;Password=crew" },
        { "CrewCaller", "ConnectionStrings__Postgres", "Host=127.0.0.1;Database=crewplatform;Username=crew_caller;Password=crew_caller" },
        { "ResponseStore", "ConnectionStrings__Postgres", "Host=127.0.0.1;Database=crewplatform;Username=response_store;Password=crew" },
        { "Gateway", "CREW_ADMIN_TOKEN", "local-dev-token" },
        { "Gateway", "CREW_AUTH_DISABLED", "true" },
    };

    [Theory]
    [MemberData(nameof(KnownDefaults))]
    public async Task A_service_in_Production_refuses_to_start_with_a_known_default_and_names_the_setting(string service, string setting, string value)
    {
        var environment = OwnSecrets();
        environment[setting] = value;

        var (exitCode, output) = await ServiceBinary.RunAsync(service, environment);

        Assert.NotEqual(0, exitCode);
        Assert.Contains(setting, output, StringComparison.Ordinal);
        Assert.Contains("Production", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Development_accepts_the_local_defaults()
    {
        // --migrate-only as a user the server does not know (password = user name, the local convention): past the
        // check, the service tries to log in and fails there, at once.
        var environment = OwnSecrets();
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        environment["RabbitMq__Password"] = "guest";
        environment["ConnectionStrings__Postgres"] = "Host=127.0.0.1;Port=5432;Database=crewplatform;Username=crewtest_nobody;Password=crewtest_nobody";

        var (exitCode, output) = await ServiceBinary.RunAsync("CrewCaller", environment, "--migrate-only");

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain("before running in Production", output, StringComparison.Ordinal);
        Assert.Contains("crewtest_nobody", output, StringComparison.Ordinal);
    }

    /// <summary>Production with secrets of its own everywhere, so only the setting under test is a known default.</summary>
    private static Dictionary<string, string?> OwnSecrets() => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port=1;Database=crewplatform;Username=scheduler;Password={OwnPassword};Timeout=2",
        ["RabbitMq__Username"] = "scheduler",
        ["RabbitMq__Password"] = OwnPassword,
        ["CREW_ADMIN_TOKEN"] = OwnPassword,
    };
}
