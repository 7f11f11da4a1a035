ALTER TABLE "inventory" ALTER COLUMN "quantity_on_hand" SET DATA TYPE numeric(13, 4);--> statement-breakpoint
ALTER TABLE "inventory" ALTER COLUMN "quantity_on_hand" SET DEFAULT '0';--> statement-breakpoint
ALTER TABLE "inventory" ALTER COLUMN "low_stock_threshold" SET DATA TYPE numeric(13, 4);