// The stack under the Aspire dashboard, against the PostgreSQL and RabbitMQ already running (scripts/infra.sh up):
// their settings are parameters (appsettings.json, or ConnectionStrings__Postgres / Parameters__rabbitmq-* in the
// environment), not containers. Every other setting comes from deploy/env/<service>.env, the files run-local.sh and
// docker-compose.yml read, so this host adds no second copy of them.
var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddConnectionString("Postgres");
var rabbitHost = builder.AddParameter("rabbitmq-host");
var rabbitPort = builder.AddParameter("rabbitmq-port");
var rabbitUser = builder.AddParameter("rabbitmq-username");
var rabbitPassword = builder.AddParameter("rabbitmq-password", secret: true);

// What this host supplies itself: addresses (Aspire's), the database and broker (parameters), the services' URLs.
string[] supplied =
[
    "ASPNETCORE_URLS", "ConnectionStrings__Postgres", "RabbitMq__", "CREW_API_URL", "GATEWAY_SCHEDULER_URL", "GATEWAY_RESPONSE_STORE_URL",
    "GATEWAY_WEBHOOKS_URL",
];

IResourceBuilder<ProjectResource> Service<TProject>(string name) where TProject : IProjectMetadata, new()
{
    var service = builder.AddProject<TProject>(name).WithHttpEndpoint(port: name == "gateway" ? 8080 : null);
    var envFile = Path.Combine(builder.AppHostDirectory, "..", "..", "deploy", "env", $"{name}.env");
    foreach (var line in File.ReadLines(envFile).Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#')))
    {
        var (key, value) = (line[..line.IndexOf('=', StringComparison.Ordinal)], line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        if (!supplied.Any(s => key.StartsWith(s, StringComparison.Ordinal)))
        {
            service.WithEnvironment(key, value);
        }
    }

    return service;
}

IResourceBuilder<ProjectResource> Backend<TProject>(string name) where TProject : IProjectMetadata, new() =>
    Service<TProject>(name)
        .WithReference(postgres)
        .WithEnvironment("RabbitMq__Host", rabbitHost)
        .WithEnvironment("RabbitMq__Port", rabbitPort)
        .WithEnvironment("RabbitMq__Username", rabbitUser)
        .WithEnvironment("RabbitMq__Password", rabbitPassword)
        .WithHttpHealthCheck("/health/ready");

var fakeCrewApi = Service<Projects.CrewPlatform_FakeCrewApi>("fake-crew-api");
var crewApiUrl = ReferenceExpression.Create($"{fakeCrewApi.GetEndpoint("http")}/run-crew");

var scheduler = Backend<Projects.CrewPlatform_Scheduler>("scheduler").WithEnvironment("CREW_API_URL", crewApiUrl);
Backend<Projects.CrewPlatform_CrewCaller>("crew-caller").WithEnvironment("CREW_API_URL", crewApiUrl).WaitFor(fakeCrewApi);
var responseStore = Backend<Projects.CrewPlatform_ResponseStore>("response-store");
var webhooks = Backend<Projects.CrewPlatform_Webhooks>("webhooks");

Service<Projects.CrewPlatform_Gateway>("gateway")
    .WithEnvironment("GATEWAY_SCHEDULER_URL", scheduler.GetEndpoint("http"))
    .WithEnvironment("GATEWAY_RESPONSE_STORE_URL", responseStore.GetEndpoint("http"))
    .WithEnvironment("GATEWAY_WEBHOOKS_URL", webhooks.GetEndpoint("http"))
    .WaitFor(scheduler)
    .WaitFor(responseStore)
    .WaitFor(webhooks);

builder.Build().Run();
