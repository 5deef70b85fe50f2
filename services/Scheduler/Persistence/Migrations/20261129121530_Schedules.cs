using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Schedules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_schedule_single_row",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.AlterColumn<int>(
                name: "id",
                schema: "scheduler",
                table: "schedule",
                type: "integer",
                nullable: false,
                oldClrType: typeof(int),
                oldType: "integer")
                .Annotation("Npgsql:IdentitySequenceOptions", "'2', '1', '', '', 'False', '1'")
                .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn);

            migrationBuilder.AddColumn<string>(
                name: "endpoint",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(40)",
                maxLength: 40,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "name",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "overlap",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "priority",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "normal");

            migrationBuilder.AddColumn<string>(
                name: "segment",
                schema: "scheduler",
                table: "schedule",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "all");

            migrationBuilder.AddColumn<string>(
                name: "endpoint",
                schema: "scheduler",
                table: "runs",
                type: "character varying(40)",
                maxLength: 40,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AddColumn<string>(
                name: "priority",
                schema: "scheduler",
                table: "runs",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "normal");

            migrationBuilder.AddColumn<int>(
                name: "schedule_id",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "segment",
                schema: "scheduler",
                table: "runs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_schedule_name",
                schema: "scheduler",
                table: "schedule",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs",
                columns: new[] { "schedule_id", "started_at" },
                descending: new[] { false, true });

            // Every run before schedules existed was a run of the one schedule, now the default one, over every user.
            migrationBuilder.Sql("UPDATE scheduler.runs SET schedule_id = 1, segment = 'all' WHERE schedule_id IS NULL;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_schedule_name",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "endpoint",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "name",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "overlap",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "priority",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "segment",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "endpoint",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "priority",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "schedule_id",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "segment",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.AlterColumn<int>(
                name: "id",
                schema: "scheduler",
                table: "schedule",
                type: "integer",
                nullable: false,
                oldClrType: typeof(int),
                oldType: "integer")
                .OldAnnotation("Npgsql:IdentitySequenceOptions", "'2', '1', '', '', 'False', '1'")
                .OldAnnotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn);

            migrationBuilder.AddCheckConstraint(
                name: "ck_schedule_single_row",
                schema: "scheduler",
                table: "schedule",
                sql: "id = 1");
        }
    }
}
