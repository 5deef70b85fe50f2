// The stack under the Aspire dashboard, against the PostgreSQL and RabbitMQ already running (scripts/infra.sh up):
// their settings are parameters (appsettings.json, or ConnectionStrings__Postgres / Parameters__rabbitmq-* in the
// environment), not containers. Every other setting is each service's own default (README, Configuration).
var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddConnectionString("Postgres");
var rabbitHost = builder.AddParameter("rabbitmq-host");
var rabbitPort = builder.AddParameter("rabbitmq-port");
var rabbitUser = builder.AddParameter("rabbitmq-username");
var rabbitPassword = builder.AddParameter("rabbitmq-password", secret: true);

IResourceBuilder<ProjectResource> Backend<TProject>(string name) where TProject : IProjectMetadata, new() =>
    builder.AddProject<TProject>(name)
        .WithHttpEndpoint()
        .WithReference(postgres)
        .WithEnvironment("RabbitMq__Host", rabbitHost)
        .WithEnvironment("RabbitMq__Port", rabbitPort)
        .WithEnvironment("RabbitMq__Username", rabbitUser)
        .WithEnvironment("RabbitMq__Password", rabbitPassword)
        .WithHttpHealthCheck("/health/ready");

var fakeCrewApi = builder.AddProject<Projects.CrewPlatform_FakeCrewApi>("fake-crew-api")
    .WithHttpEndpoint()
    .WithEnvironment("FakeCrew__LatencyMs", "200");
var crewApiUrl = ReferenceExpression.Create($"{fakeCrewApi.GetEndpoint("http")}/run-crew");

var scheduler = Backend<Projects.CrewPlatform_Scheduler>("scheduler").WithEnvironment("CREW_API_URL", crewApiUrl);
Backend<Projects.CrewPlatform_CrewCaller>("crew-caller").WithEnvironment("CREW_API_URL", crewApiUrl).WaitFor(fakeCrewApi);
var responseStore = Backend<Projects.CrewPlatform_ResponseStore>("response-store");

builder.AddProject<Projects.CrewPlatform_Gateway>("gateway")
    .WithHttpEndpoint(port: 8080)
    .WithEnvironment("GATEWAY_SCHEDULER_URL", scheduler.GetEndpoint("http"))
    .WithEnvironment("GATEWAY_RESPONSE_STORE_URL", responseStore.GetEndpoint("http"))
    .WithEnvironment("CREW_ADMIN_TOKEN", "local-dev-token")
    .WaitFor(scheduler)
    .WaitFor(responseStore);

builder.Build().Run();
