using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class CronSchedules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Existing schedules are interval schedules (no cron) that catch up with one run, as before.
            migrationBuilder.AddColumn<string>(
                name: "catch_up",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(8)",
                maxLength: 8,
                nullable: false,
                defaultValue: "one");

            migrationBuilder.AddColumn<string>(
                name: "cron",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(120)",
                maxLength: 120,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "time_zone",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "catch_up",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "cron",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "time_zone",
                schema: "scheduler",
                table: "schedule");
        }
    }
}
