using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class PauseNote : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "pause_note",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "paused_at",
                schema: "scheduler",
                table: "schedule",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "paused_by",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "paused_until",
                schema: "scheduler",
                table: "schedule",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "pause_note",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "paused_at",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "paused_by",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "paused_until",
                schema: "scheduler",
                table: "schedule");
        }
    }
}
