import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Builds DynamoDB expressions with placeholders for every attribute name and value: names such as
 * `ttl` and `namespace` are reserved words, and DynamoDB refuses placeholders an expression does
 * not use, so they are collected as they are used.
 */
export class DynamoDbExpression {
  readonly #names: Record<string, string> = {};
  readonly #values: Record<string, AttributeValue> = {};
  readonly #set: string[] = [];
  readonly #remove: string[] = [];

  /** The placeholder of an attribute name. */
  name(attribute: string): string {
    const placeholder = `#${attribute}`;
    this.#names[placeholder] = attribute;
    return placeholder;
  }

  /** The placeholder of a value. */
  value(value: AttributeValue): string {
    const placeholder = `:v${Object.keys(this.#values).length}`;
    this.#values[placeholder] = value;
    return placeholder;
  }

  set(attribute: string, value: AttributeValue): this {
    this.#set.push(`${this.name(attribute)} = ${this.value(value)}`);
    return this;
  }

  /** Sets the attribute only where the item has none yet. */
  setIfAbsent(attribute: string, value: AttributeValue): this {
    const name = this.name(attribute);
    this.#set.push(`${name} = if_not_exists(${name}, ${this.value(value)})`);
    return this;
  }

  remove(...attributes: string[]): this {
    for (const attribute of attributes) this.#remove.push(this.name(attribute));
    return this;
  }

  /** `UpdateExpression` and the placeholders, for `UpdateItem`. */
  update(): {
    UpdateExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    const clauses = [];
    if (this.#set.length > 0) clauses.push(`SET ${this.#set.join(', ')}`);
    if (this.#remove.length > 0) clauses.push(`REMOVE ${this.#remove.join(', ')}`);
    return { UpdateExpression: clauses.join(' '), ...this.placeholders() };
  }

  placeholders(): {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    const values = Object.keys(this.#values).length > 0 ? { ExpressionAttributeValues: { ...this.#values } } : {};
    return { ExpressionAttributeNames: { ...this.#names }, ...values };
  }
}
