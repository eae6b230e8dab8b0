using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ApprovalStudio.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class TaskMade : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Tasks_TenantId_Status_CreatedAt",
                table: "Tasks");

            migrationBuilder.AddColumn<long>(
                name: "Made",
                table: "Tasks",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            // Tasks made before this column: the order of the node runs they were opened with (what the inbox ordered
            // same-instant tasks by until now). New tasks take TaskSequence's ticks.
            migrationBuilder.Sql("""
                UPDATE "Tasks" SET "Made" = COALESCE((SELECT MAX(r."Id") FROM "NodeRuns" AS r WHERE r."ExecutionId" = "Tasks"."ExecutionId" AND r."NodeId" = "Tasks"."NodeId" AND r."StackKey" = "Tasks"."StackKey"), 0);
                """);

            // The inbox's "deadline first" order, whole: ExpiresAt IS NULL, ExpiresAt, then newest first. An index on that expression lets a page stop at its last row.
            migrationBuilder.Sql("""
                CREATE INDEX "IX_Tasks_TenantId_Status_DeadlineOrder" ON "Tasks" ("TenantId", "Status", ("ExpiresAt" IS NULL), "ExpiresAt", "CreatedAt" DESC, "Made" DESC, "ResId");
                """);

            migrationBuilder.CreateIndex(
                name: "IX_Tasks_TenantId_Status_CreatedAt_Made",
                table: "Tasks",
                columns: new[] { "TenantId", "Status", "CreatedAt", "Made" });

            migrationBuilder.CreateIndex(
                name: "IX_Tasks_TenantId_Status_TitleOrder",
                table: "Tasks",
                columns: new[] { "TenantId", "Status", "Title", "CreatedAt", "Made", "ResId" },
                descending: new[] { false, false, false, true, true, false });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP INDEX "IX_Tasks_TenantId_Status_DeadlineOrder";
                """);

            migrationBuilder.DropIndex(
                name: "IX_Tasks_TenantId_Status_CreatedAt_Made",
                table: "Tasks");

            migrationBuilder.DropIndex(
                name: "IX_Tasks_TenantId_Status_TitleOrder",
                table: "Tasks");

            migrationBuilder.DropColumn(
                name: "Made",
                table: "Tasks");

            migrationBuilder.CreateIndex(
                name: "IX_Tasks_TenantId_Status_CreatedAt",
                table: "Tasks",
                columns: new[] { "TenantId", "Status", "CreatedAt" });
        }
    }
}
