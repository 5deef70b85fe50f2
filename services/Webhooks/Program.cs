using CrewPlatform.ServiceDefaults;
using CrewPlatform.Webhooks;
using CrewPlatform.Webhooks.Persistence;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWebhooks();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapWebhooks();
await app.RunWithMigrationsAsync<WebhooksDbContext>(args);

public partial class Program;
