using System.Text;
using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>The scheduler's own tables, in schema <c>scheduler</c> of the shared database.</summary>
public sealed class SchedulerDbContext(DbContextOptions<SchedulerDbContext> options) : DbContext(options)
{
    public const string Schema = "scheduler";

    public DbSet<ScheduleState> Schedule => Set<ScheduleState>();
    public DbSet<Run> Runs => Set<Run>();
    public DbSet<RunUser> RunUsers => Set<RunUser>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);

        modelBuilder.Entity<ScheduleState>(schedule =>
        {
            schedule.ToTable("schedule", t => t.HasCheckConstraint("ck_schedule_single_row", "id = 1"));
            schedule.HasKey(s => s.Id);
            schedule.Property(s => s.Id).ValueGeneratedNever();
        });

        modelBuilder.Entity<Run>(run =>
        {
            run.ToTable("runs");
            run.HasKey(r => r.Id);
            run.Property(r => r.Trigger).HasMaxLength(16);
            run.Property(r => r.Status).HasMaxLength(16);
            run.HasIndex(r => r.StartedAt).IsDescending();

            // The overlap check asks "is any run still going?" on every due time.
            run.HasIndex(r => r.Status).HasFilter("status = 'running'");
            run.Property(r => r.FanOutAfterUid).HasMaxLength(255);

            // The reconciler asks "which completions were never announced?" on every pass.
            run.HasIndex(r => r.CompletedAt).HasFilter("status = 'completed' AND completion_published_at IS NULL");
        });

        modelBuilder.Entity<RunUser>(user =>
        {
            user.ToTable("run_users");
            user.HasKey(u => new { u.RunId, u.UserUid });
            user.Property(u => u.UserUid).HasMaxLength(255);
            user.Property(u => u.Status).HasMaxLength(16);
            user.HasIndex(u => new { u.RunId, u.Status });
            user.HasOne<Run>().WithMany().HasForeignKey(u => u.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    private static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
