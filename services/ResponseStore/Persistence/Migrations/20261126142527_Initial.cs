using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // users belongs to the host application: this service references it but never creates it. Say so
            // plainly instead of failing on the foreign key below with "relation users does not exist".
            migrationBuilder.Sql("""
                DO $$
                BEGIN
                    IF to_regclass('public.users') IS NULL THEN
                        RAISE EXCEPTION 'crew_responses references the host application''s users table, which does not exist; create it first (deploy/postgres/init/01-users.sql)';
                    END IF;
                END $$;
                """);

            migrationBuilder.EnsureSchema(
                name: "public");

            migrationBuilder.CreateTable(
                name: "crew_responses",
                schema: "public",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                    user_uid = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    request_context = table.Column<string>(type: "text", nullable: true),
                    request_goal = table.Column<string>(type: "text", nullable: true),
                    response_data = table.Column<string>(type: "jsonb", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp without time zone", nullable: true, defaultValueSql: "(now() AT TIME ZONE 'utc')"),
                    run_id = table.Column<Guid>(type: "uuid", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_crew_responses", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "idx_crew_responses_created_at",
                schema: "public",
                table: "crew_responses",
                column: "created_at",
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "idx_crew_responses_user_uid",
                schema: "public",
                table: "crew_responses",
                column: "user_uid");

            migrationBuilder.CreateIndex(
                name: "idx_crew_responses_user_uid_created_at",
                schema: "public",
                table: "crew_responses",
                columns: new[] { "user_uid", "created_at" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ux_crew_responses_run_id_user_uid",
                schema: "public",
                table: "crew_responses",
                columns: new[] { "run_id", "user_uid" },
                unique: true);

            // Modelled as SQL, not as an EF relationship, so EF never tries to create or migrate users.
            migrationBuilder.Sql("""
                ALTER TABLE public.crew_responses
                    ADD CONSTRAINT fk_crew_responses_users FOREIGN KEY (user_uid) REFERENCES public.users (uid) ON DELETE CASCADE;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "crew_responses",
                schema: "public");
        }
    }
}
