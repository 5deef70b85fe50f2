using CrewPlatform.Scheduler;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddScheduler();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapScheduler();
await app.RunWithMigrationsAsync<SchedulerDbContext>(args);

public partial class Program;
