using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace CrewPlatform.Deploy.Tests;

public sealed class DefaultSecretsTests
{
    [Theory]
    [InlineData("guest", "guest")]
    [InlineData("guest", "scheduler")]
    [InlineData("crew", "crew")]
    [InlineData("CREW", "app")]
    [InlineData("local-dev-token", null)]
    [InlineData("crew-caller", "crew-caller")]
    [InlineData("Response_Store", "response_store")]
    public void A_published_secret_or_a_password_equal_to_its_user_is_refused_naming_the_setting(string secret, string? user)
    {
        var refusal = DefaultSecrets.Refusal("RabbitMq__Password", secret, user);

        Assert.NotNull(refusal);
        Assert.StartsWith("RabbitMq__Password is ", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("9f2c0e7d41b3a8", "scheduler")]
    [InlineData("guest-but-longer", "guest")]
    [InlineData("", "scheduler")]
    [InlineData(null, "scheduler")]
    public void Any_other_secret_is_accepted(string? secret, string? user) =>
        Assert.Null(DefaultSecrets.Refusal("RabbitMq__Password", secret, user));

    [Theory]
    [InlineData(PostgresSettings.DefaultConnectionString)]
    [InlineData("Host=db;Database=crewplatform;Username=scheduler;Password=scheduler")]
    [InlineData("Host=db;Database=crewplatform;Username=app;Password=crew")]
    public void A_connection_string_with_a_known_password_is_refused(string connectionString)
    {
        var refusal = DefaultSecrets.PostgresRefusal(PostgresSettings.ConnectionStringKey, connectionString);

        Assert.NotNull(refusal);
        Assert.Contains("ConnectionStrings__Postgres", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("Host=", refusal, StringComparison.Ordinal); // names the setting, never echoes the string
    }

    [Fact]
    public void A_connection_string_with_its_own_password_is_accepted() =>
        Assert.Null(DefaultSecrets.PostgresRefusal(
            PostgresSettings.ConnectionStringKey, "Host=db;Database=crewplatform;Username=scheduler;Password=a8f03c9e1b"));

    [Fact]
    public void Production_stops_on_a_refusal_and_names_the_setting()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });

        var error = Assert.Throws<InvalidOperationException>(() => builder.RefuseInProduction(DefaultSecrets.Refusal("CREW_ADMIN_TOKEN", "local-dev-token")));
        Assert.Contains("CREW_ADMIN_TOKEN", error.Message, StringComparison.Ordinal);
        Assert.Contains("Production", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Development_runs_with_the_local_defaults()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Development });

        builder.RefuseInProduction(DefaultSecrets.Refusal("CREW_ADMIN_TOKEN", "local-dev-token"));
        builder.RefuseInProduction(DefaultSecrets.PostgresRefusal(PostgresSettings.ConnectionStringKey, PostgresSettings.DefaultConnectionString));
    }
}
