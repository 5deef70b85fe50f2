using CrewPlatform.Scheduler;
using CrewPlatform.Scheduler.Apis;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddSchedulerServices();
builder.AddMessaging(x => x.AddSchedulerConsumers());

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapSchedulerApi();
app.UseSchedulerTicks();
await app.RunWithMigrationsAsync<SchedulerDbContext>(args);

public partial class Program;
