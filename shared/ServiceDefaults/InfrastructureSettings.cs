using Microsoft.Extensions.Configuration;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// RabbitMQ connection settings, configuration section <c>RabbitMq</c> (env <c>RabbitMq__Host</c> ...). The defaults
/// reach a fresh local broker; Production refuses the guest password (<see cref="DefaultSecrets"/>).
/// </summary>
public sealed class RabbitMqSettings
{
    public const string SectionName = "RabbitMq";
    public const string PasswordKey = "RabbitMq__Password";

    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 5672;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "guest";
    public string Password { get; set; } = "guest";

    public static RabbitMqSettings From(IConfiguration configuration) =>
        configuration.GetSection(SectionName).Get<RabbitMqSettings>() ?? new RabbitMqSettings();
}

/// <summary>
/// The PostgreSQL connection string, <c>ConnectionStrings:Postgres</c> (env <c>ConnectionStrings__Postgres</c>). The
/// default is the local admin role; Production refuses its password (<see cref="DefaultSecrets"/>).
/// </summary>
public static class PostgresSettings
{
    public const string ConnectionStringName = "Postgres";
    public const string ConnectionStringKey = "ConnectionStrings__Postgres";
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=5432;Database=crewplatform;Username=crew;Password=crew";

    public static string ConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } value ? value : DefaultConnectionString;
}

/// <summary>The crew API's URL, <c>CREW_API_URL</c>: called by CrewCaller, reported by the Scheduler.</summary>
public static class CrewApiSettings
{
    public const string UrlKey = "CREW_API_URL";

    /// <summary>The fake crew API of a local stack, so a fresh checkout works before a real crew is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8090/run-crew";
}
