using CrewPlatform.Gateway;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();
app.MapDefaultEndpoints(metrics: false); // on its management port only (MapGateway)
app.MapGateway();
await app.RunAsync();

public partial class Program;
